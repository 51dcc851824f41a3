"""Label names, parents and categories for ImageNet classes, from the WordNet 3.0 hypernym graph.

`imagenet_taxonomy.json` (built by tools/build_vision_taxonomy.py) holds the 1000 classes and
every synset above them. Each class yields its own label (its first WordNet lemma in Title
Case, "Tabby") plus one label for every curated synset above it ("Cat", "Mammal", "Animal",
"Pet"): those curated synsets are the names Rekognition uses, and they carry its categories.
A label's parents are the curated labels above it, nearest first; its aliases are the other
names WordNet gives its synset ("Bicycle": "Bike", "Wheel", "Cycle").
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TAXONOMY_FILE = Path(__file__).with_name("imagenet_taxonomy.json")
FALLBACK_CATEGORY = "Everyday Objects"
ANIMALS = "Animals and Pets"
VEHICLES = "Vehicles and Automotive"
FOOD = "Food and Beverage"
HOME = "Home and Indoors"
TECHNOLOGY = "Technology and Computing"
APPAREL = "Apparel and Accessories"
NATURE = "Nature and Outdoors"
PLANTS = "Plants and Flowers"
BUILDINGS = "Buildings and Architecture"
TOOLS = "Tools and Machinery"
WEAPONS = "Weapons and Military"
SPORTS = "Sports"
HOBBIES = "Hobbies and Interests"
PERSON_DESCRIPTION = "Person Description"

# WordNet synset id -> (Rekognition-style label name, category)
CURATED_LABELS: dict[str, tuple[str, str]] = {
    "n00015388": ("Animal", ANIMALS),
    "n01861778": ("Mammal", ANIMALS),
    "n01503061": ("Bird", ANIMALS),
    "n01661091": ("Reptile", ANIMALS),
    "n01627424": ("Amphibian", ANIMALS),
    "n02512053": ("Fish", ANIMALS),
    "n01905661": ("Invertebrate", ANIMALS),
    "n02159955": ("Insect", ANIMALS),
    "n01772222": ("Spider", ANIMALS),
    "n01317541": ("Pet", ANIMALS),
    "n02083346": ("Canine", ANIMALS),
    "n02084071": ("Dog", ANIMALS),
    "n02121808": ("Cat", ANIMALS),
    "n02484322": ("Monkey", ANIMALS),
    "n02470325": ("Ape", ANIMALS),
    "n01726692": ("Snake", ANIMALS),
    "n01674464": ("Lizard", ANIMALS),
    "n01662784": ("Turtle", ANIMALS),
    "n01639765": ("Frog", ANIMALS),
    "n02274259": ("Butterfly", ANIMALS),
    "n02164464": ("Beetle", ANIMALS),
    "n01482330": ("Shark", ANIMALS),
    "n02062744": ("Whale", ANIMALS),
    "n02131653": ("Bear", ANIMALS),
    "n02114100": ("Wolf", ANIMALS),
    "n02118333": ("Fox", ANIMALS),
    "n02329401": ("Rodent", ANIMALS),
    "n02324045": ("Rabbit", ANIMALS),
    "n02374451": ("Horse", ANIMALS),
    "n02402425": ("Cattle", ANIMALS),
    "n02503517": ("Elephant", ANIMALS),
    "n01846331": ("Duck", ANIMALS),
    "n01816887": ("Parrot", ANIMALS),
    "n03100490": ("Transportation", VEHICLES),
    "n04524313": ("Vehicle", VEHICLES),
    "n02958343": ("Car", VEHICLES),
    "n04490091": ("Truck", VEHICLES),
    "n02924116": ("Bus", VEHICLES),
    "n02834778": ("Bicycle", VEHICLES),
    "n03790512": ("Motorcycle", VEHICLES),
    "n04468005": ("Train", VEHICLES),
    "n04530566": ("Watercraft", VEHICLES),
    "n02858304": ("Boat", VEHICLES),
    "n04194289": ("Ship", VEHICLES),
    "n02686568": ("Aircraft", VEHICLES),
    "n02691156": ("Airplane", VEHICLES),
    "n04565375": ("Weapon", WEAPONS),
    "n03467984": ("Gun", WEAPONS),
    "n00021265": ("Food", FOOD),
    "n07555863": ("Food", FOOD),
    "n07881800": ("Beverage", FOOD),
    "n07929519": ("Coffee", FOOD),
    "n07884567": ("Alcohol", FOOD),
    "n07707451": ("Vegetable", FOOD),
    "n07705931": ("Fruit", FOOD),
    "n07679356": ("Bread", FOOD),
    "n07609840": ("Dessert", FOOD),
    "n07557434": ("Dish", FOOD),
    "n03241496": ("Cup", FALLBACK_CATEGORY),
    "n02876657": ("Bottle", FALLBACK_CATEGORY),
    "n03405725": ("Furniture", HOME),
    "n04379964": ("Table", HOME),
    "n04256520": ("Couch", HOME),
    "n03636248": ("Lamp", HOME),
    "n03046257": ("Clock", HOME),
    "n03278248": ("Electronics", TECHNOLOGY),
    "n03082979": ("Computer", TECHNOLOGY),
    "n04401088": ("Phone", TECHNOLOGY),
    "n03800933": ("Musical Instrument", HOBBIES),
    "n03467517": ("Guitar", HOBBIES),
    "n03051540": ("Clothing", APPAREL),
    "n03381126": ("Footwear", APPAREL),
    "n04199027": ("Shoe", APPAREL),
    "n03497657": ("Hat", APPAREL),
    "n02773037": ("Bag", APPAREL),
    "n04285146": ("Sports Equipment", SPORTS),
    "n02778669": ("Ball", SPORTS),
    "n04341686": ("Architecture", BUILDINGS),
    "n02913152": ("Building", BUILDINGS),
    "n02898711": ("Bridge", BUILDINGS),
    "n09287968": ("Nature", NATURE),
    "n09359803": ("Mountain", NATURE),
    "n00017222": ("Plant", PLANTS),
    "n11669921": ("Flower", PLANTS),
    "n12992868": ("Fungus", PLANTS),
    "n04451818": ("Tool", TOOLS),
    "n03699975": ("Machine", TOOLS),
    "n00007846": ("Person", PERSON_DESCRIPTION),
}

# ImageNet classes whose WordNet lemma misleads: names that collide, and "cup", a drinking
# vessel in ImageNet's photographs but a punch in WordNet (reparented under drinking vessel).
CLASS_NAME_OVERRIDES = {
    "n02012849": "Crane Bird",
    "n03126707": "Construction Crane",
    "n02113186": "Cardigan Welsh Corgi",
}
CLASS_HYPERNYM_OVERRIDES = {"n07930864": ["n03241496"]}


@dataclass(frozen=True)
class LabelInfo:
    name: str
    parents: tuple[str, ...]  # curated labels above, nearest first
    categories: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    class_labels: tuple[tuple[str, ...], ...]  # per ImageNet class index: the label names it supports
    labels: dict[str, LabelInfo]

    def describe(self, name: str) -> LabelInfo:
        return self.labels.get(name, LabelInfo(name, (), (FALLBACK_CATEGORY,)))

    def synset_label(self, synset_id: str) -> str:
        return CURATED_LABELS[synset_id][0]


def _ancestors(synset_id: str, hypernyms: dict[str, list[str]]) -> list[str]:
    """Synsets above `synset_id`, breadth first (nearest first), each once."""
    seen: dict[str, None] = {}
    queue = deque(hypernyms[synset_id])
    while queue:
        ancestor = queue.popleft()
        if ancestor not in seen:
            seen[ancestor] = None
            queue.extend(hypernyms[ancestor])
    return list(seen)


def _curated_above(synset_id: str, hypernyms: dict[str, list[str]]) -> list[str]:
    return [ancestor for ancestor in _ancestors(synset_id, hypernyms) if ancestor in CURATED_LABELS]


def _label_info(
    name: str, synset_id: str, synsets: dict[str, dict], hypernyms: dict[str, list[str]]
) -> LabelInfo:
    curated = _curated_above(synset_id, hypernyms)
    parents = tuple(dict.fromkeys(CURATED_LABELS[a][0] for a in curated if CURATED_LABELS[a][0] != name))
    if synset_id in CURATED_LABELS:
        category = CURATED_LABELS[synset_id][1]
    else:
        category = CURATED_LABELS[curated[0]][1] if curated else FALLBACK_CATEGORY
    synset = synsets[synset_id]
    names = [synset["name"], *synset.get("aliases", ())]
    return LabelInfo(name, parents, (category,), tuple(alias for alias in names if alias != name))


def _merge(known: LabelInfo | None, new: LabelInfo) -> LabelInfo:
    if known is None:
        return new
    parents = tuple(dict.fromkeys(known.parents + new.parents))
    categories = tuple(dict.fromkeys(known.categories + new.categories))
    return LabelInfo(known.name, parents, categories, tuple(dict.fromkeys(known.aliases + new.aliases)))


def _class_name(synset_id: str, synsets: dict[str, dict]) -> str:
    if synset_id in CURATED_LABELS:
        return CURATED_LABELS[synset_id][0]
    return CLASS_NAME_OVERRIDES.get(synset_id, synsets[synset_id]["name"])


def build_taxonomy(document: dict) -> Taxonomy:
    synsets = document["synsets"]
    hypernyms = {synset_id: synset["hypernyms"] for synset_id, synset in synsets.items()}
    hypernyms.update(CLASS_HYPERNYM_OVERRIDES)
    labels: dict[str, LabelInfo] = {}
    class_labels = []
    for class_id in document["classes"]:
        supported = [(_class_name(class_id, synsets), class_id)]
        supported += [(CURATED_LABELS[a][0], a) for a in _curated_above(class_id, hypernyms)]
        for name, synset_id in supported:
            labels[name] = _merge(labels.get(name), _label_info(name, synset_id, synsets, hypernyms))
        class_labels.append(tuple(dict.fromkeys(name for name, _ in supported)))
    return Taxonomy(tuple(class_labels), labels)


@cache
def imagenet_taxonomy() -> Taxonomy:
    return build_taxonomy(json.loads(TAXONOMY_FILE.read_text(encoding="utf-8")))
