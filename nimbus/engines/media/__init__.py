"""Media containers: Matroska (MKV) framing for Kinesis Video Streams (reading a producer's stream
as it arrives, writing fragments and the chunks consumers read back), and decoding a fragment's
frames. No HTTP and no AWS shapes here."""
