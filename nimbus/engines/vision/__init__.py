"""Vision: image decoding, labels, objects, faces, text and moderation models."""
