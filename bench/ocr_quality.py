"""OCR quality: character accuracy of Nimbus's text engine on rendered sentences.

Each of a fixed set of sentences is drawn black on white with Pillow, in each of Debian's DejaVu
core fonts (package fonts-dejavu-core) at several pixel sizes, as a PNG, and read back with
``nimbus.engines.vision.text.detect_text``. The recognized lines are joined with spaces and
compared with the sentence: character accuracy is 1 - CER, CER being the Levenshtein distance
over the sentence's length, summed over the sentences of one font and size. Case, punctuation and
spaces all count. Prints a Markdown table and the mean milliseconds per image (models warm).

    .venv/bin/python bench/ocr_quality.py [--sizes 10 12 18 28 44]
"""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from nimbus.engines.vision.image import DecodedImage, decode_image
from nimbus.engines.vision.text import detect_text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSansMono")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Invoice 2024-0117 is due on 31 March; total $1,284.50",
    "Call +1 (555) 010-7788 or email help@example.org",
    "Keep left: lane closed 400 m ahead",
    "Batch 7 of 12 finished in 3.5 seconds",
    "ROOM 214 - AUTHORIZED PERSONNEL ONLY",
    "Mix 2 cups flour with 1/2 tsp salt",
    "Nimbus answers S3, Rekognition and SageMaker calls",
)
MARGIN = 24


@dataclass
class Tally:
    errors: int = 0
    characters: int = 0

    @property
    def accuracy(self) -> float:
        return max(0.0, 1.0 - self.errors / self.characters)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def render(sentence: str, font: ImageFont.FreeTypeFont) -> DecodedImage:
    left, top, right, bottom = font.getbbox(sentence)
    image = Image.new("RGB", (right - left + 2 * MARGIN, bottom - top + 2 * MARGIN), "white")
    ImageDraw.Draw(image).text((MARGIN - left, MARGIN - top), sentence, font=font, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return decode_image(buffer.getvalue())


def measure(sizes: list[int]) -> tuple[dict[tuple[str, int], Tally], list[float]]:
    tallies: dict[tuple[str, int], Tally] = {}
    seconds: list[float] = []
    detect_text(render("warm up", ImageFont.truetype(str(FONT_DIR / f"{FONTS[0]}.ttf"), 24)))
    for font_name in FONTS:
        for size in sizes:
            font = ImageFont.truetype(str(FONT_DIR / f"{font_name}.ttf"), size)
            tally = tallies.setdefault((font_name, size), Tally())
            for sentence in SENTENCES:
                image = render(sentence, font)
                started = time.perf_counter()
                lines = detect_text(image)
                seconds.append(time.perf_counter() - started)
                tally.errors += edit_distance(" ".join(line.text for line in lines), sentence)
                tally.characters += len(sentence)
    return tallies, seconds


def markdown_table(tallies: dict[tuple[str, int], Tally], sizes: list[int]) -> str:
    header = "| font | " + " | ".join(f"{size} px" for size in sizes) + " | all sizes |"
    rule = "| --- |" + " ---: |" * (len(sizes) + 1)
    rows = [header, rule]
    for font_name in FONTS:
        cells = [f"{tallies[(font_name, size)].accuracy:.1%}" for size in sizes]
        everything = Tally(
            sum(tallies[(font_name, size)].errors for size in sizes),
            sum(tallies[(font_name, size)].characters for size in sizes),
        )
        rows.append(f"| {font_name} | " + " | ".join(cells) + f" | {everything.accuracy:.1%} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 12, 18, 28, 44], help="pixel sizes")
    sizes = parser.parse_args().sizes
    tallies, seconds = measure(sizes)
    print("Character accuracy (1 - CER) of detect_text, per font and size:\n")
    print(markdown_table(tallies, sizes))
    total = Tally(sum(t.errors for t in tallies.values()), sum(t.characters for t in tallies.values()))
    milliseconds = 1000 * sum(seconds) / len(seconds)
    print(f"\nAll: {total.accuracy:.2%} over {total.characters} characters in {len(seconds)} images;")
    print(f"{milliseconds:.0f} ms per image on average (one image at a time, models warm).")


if __name__ == "__main__":
    main()
