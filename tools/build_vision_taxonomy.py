"""Build nimbus/engines/vision/imagenet_taxonomy.json: the 1000 ImageNet-1k classes and every
WordNet 3.0 noun synset above them (name, other names and hypernyms), so that labels get
parents and aliases at run time without WordNet installed.

Inputs, both offline:
- the ImageNet-1k class order (WordNet ids, sorted) from timm's `data/_info/imagenet_synsets.txt`
  (`pip install --no-deps timm`; Apache-2.0); timm is read as files, never imported;
- WordNet 3.0's noun database from Debian's `wordnet-base` (`apt-get install wordnet-base`),
  whose offsets are ImageNet's synset ids.

Run: `python tools/build_vision_taxonomy.py` (rewrites the JSON; the output is committed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")
OUTPUT = Path(__file__).resolve().parents[1] / "nimbus" / "engines" / "vision" / "imagenet_taxonomy.json"
HYPERNYM_POINTERS = ("@", "@i")  # hypernym, instance hypernym
WORDNET_NOTICE = (
    "Synset names and hypernyms from WordNet 3.0. WordNet 3.0 Copyright 2006 by Princeton University. "
    "All rights reserved. THIS SOFTWARE AND DATABASE IS PROVIDED 'AS IS' AND PRINCETON UNIVERSITY MAKES "
    "NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED."
)


@dataclass(frozen=True)
class Synset:
    name: str
    hypernyms: list[str]
    aliases: list[str]  # the synset's other lemmas, Title Case: what DetectLabels reports as Aliases


def imagenet_class_ids() -> list[str]:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("timm is not installed: pip install --no-deps timm")
    synsets_file = Path(spec.submodule_search_locations[0]) / "data" / "_info" / "imagenet_synsets.txt"
    class_ids = [line.strip() for line in synsets_file.read_text().splitlines() if line.strip()]
    if len(class_ids) != 1000:
        raise SystemExit(f"{synsets_file} lists {len(class_ids)} classes, not 1000")
    return class_ids


def title_case(lemma: str) -> str:
    words = lemma.replace("_", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words)


def parse_noun_line(line: str) -> tuple[str, Synset]:
    fields = line.split(" | ", 1)[0].split()
    offset, word_count = fields[0], int(fields[3], 16)
    lemmas = [title_case(lemma.split("(")[0]) for lemma in fields[4 : 4 + 2 * word_count : 2]]
    pointer_start = 4 + 2 * word_count
    pointer_count = int(fields[pointer_start])
    hypernyms = []
    for index in range(pointer_count):
        symbol, target, part_of_speech = fields[pointer_start + 1 + 4 * index : pointer_start + 4 + 4 * index]
        if symbol in HYPERNYM_POINTERS and part_of_speech == "n":
            hypernyms.append(f"n{target}")
    aliases = [lemma for lemma in dict.fromkeys(lemmas[1:]) if lemma != lemmas[0]]
    return f"n{offset}", Synset(lemmas[0], hypernyms, aliases)


def read_wordnet_nouns(path: Path) -> dict[str, Synset]:
    if not path.exists():
        raise SystemExit(f"{path} is missing: apt-get install wordnet-base")
    with path.open(encoding="utf-8") as lines:
        return dict(parse_noun_line(line) for line in lines if not line.startswith("  "))


def ancestors_closure(class_ids: list[str], nouns: dict[str, Synset]) -> dict[str, Synset]:
    kept: dict[str, Synset] = {}
    pending = list(class_ids)
    while pending:
        synset_id = pending.pop()
        if synset_id not in kept:
            kept[synset_id] = nouns[synset_id]
            pending.extend(nouns[synset_id].hypernyms)
    return kept


def build(output: Path) -> None:
    class_ids = imagenet_class_ids()
    synsets = ancestors_closure(class_ids, read_wordnet_nouns(WORDNET_NOUNS))
    document = {
        "notice": WORDNET_NOTICE,
        "classes": class_ids,
        "synsets": {
            synset_id: {"name": synset.name, "hypernyms": synset.hypernyms}
            | ({"aliases": synset.aliases} if synset.aliases else {})
            for synset_id, synset in sorted(synsets.items())
        },
    }
    output.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {output}: {len(class_ids)} classes, {len(synsets)} synsets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    build(parser.parse_args().output)


if __name__ == "__main__":
    main()
