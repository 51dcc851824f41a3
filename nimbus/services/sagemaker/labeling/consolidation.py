"""Annotation consolidation across workers, as Ground Truth documents it for its built-in task types:
a vote for classification (the confidence is the share of workers who agree), boxes clustered by IoU
and averaged, entity spans voted on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# boxes of one class from different workers are the same object when they overlap this much
BOX_IOU = 0.5


def majority(votes: list[str]) -> tuple[str, float]:
    """The label most workers chose (the first chosen among equals) and the share that chose it."""
    counts = Counter(votes)
    best = max(counts.values())
    winner = next(vote for vote in votes if counts[vote] == best)
    return winner, best / len(votes)


def label_sets(answers: list[list[str]]) -> dict[str, float]:
    """Multi-label: every label at least half the workers chose, with the share that chose it."""
    counts = Counter(label for chosen in answers for label in set(chosen))
    return {label: count / len(answers) for label, count in counts.items() if count * 2 >= len(answers)}


@dataclass(frozen=True)
class Box:
    label: str
    left: float
    top: float
    width: float
    height: float

    def iou(self, other: Box) -> float:
        right, bottom = (
            min(self.left + self.width, other.left + other.width),
            min(self.top + self.height, other.top + other.height),
        )
        inner = max(0.0, right - max(self.left, other.left)) * max(0.0, bottom - max(self.top, other.top))
        union = self.width * self.height + other.width * other.height - inner
        return inner / union if union > 0 else 0.0


def boxes(answers: list[list[Box]]) -> list[tuple[Box, float]]:
    """Each worker's boxes joined to clusters (one box per worker in a cluster, the best overlap of the
    same label at IoU >= 0.5); clusters that at least half the workers drew become their average box,
    with the share of workers in it times their mean IoU with it as the confidence."""
    clusters: list[list[Box]] = []
    for drawn in answers:
        taken: set[int] = set()
        for box in drawn:
            scores = [
                (box.iou(_mean(cluster)), index)
                for index, cluster in enumerate(clusters)
                if index not in taken and cluster[0].label == box.label
            ]
            score, index = max(scores, default=(0.0, -1))
            if score >= BOX_IOU:
                clusters[index].append(box)
            else:
                index = len(clusters)
                clusters.append([box])
            taken.add(index)
    kept = []
    for cluster in clusters:
        if len(cluster) * 2 < len(answers):
            continue
        mean = _mean(cluster)
        overlap = sum(box.iou(mean) for box in cluster) / len(cluster)
        kept.append((mean, round(len(cluster) / len(answers) * overlap, 2)))
    return kept


def _mean(cluster: list[Box]) -> Box:
    count = len(cluster)
    return Box(
        cluster[0].label,
        sum(box.left for box in cluster) / count,
        sum(box.top for box in cluster) / count,
        sum(box.width for box in cluster) / count,
        sum(box.height for box in cluster) / count,
    )


def spans(answers: list[list[tuple[int, int, str]]]) -> list[tuple[tuple[int, int, str], float]]:
    """Named entities: every (start, end, label) span at least half the workers marked, in text order,
    with the share that marked it."""
    counts = Counter(span for marked in answers for span in set(marked))
    return sorted((span, count / len(answers)) for span, count in counts.items() if count * 2 >= len(answers))
