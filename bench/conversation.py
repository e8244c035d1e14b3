"""What reading turns in context costs: a 10-turn conversation in one pass vs 10 lone turns (issue goal: within
1.5x), and vs the naive way of giving each turn its context (a pass per turn over the turns before it).

Real dialogues: the first 10 turns of EmotionLines dev conversations (``../shared/data``). The labeler is a
one-pass adapter (default: the shipped one) on its Ekman head. Each mode labels the same turns; medians of
``--repeat`` timed passes, on ``--threads`` torch threads (the machine is shared: read the ratios).

    .venv/bin/python bench/conversation.py --conversations 20 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from annotator.datasets import read_dataset
from annotator.label.adapters import default_adapter_path
from annotator.taxonomy import get_taxonomy
from models.labeler import open_labeler
from models.onepass.dialogue import Dialogue, Turn

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def dialogues(data: Path, n: int, turns: int) -> list[tuple[Turn, ...]]:
    """The first ``turns`` turns of the first ``n`` EmotionLines dev conversations that have that many."""
    by_conversation: dict[str, list[Turn]] = {}
    for row in read_dataset(data / "emotionlines_friends", "emotionlines", splits="dev"):
        by_conversation.setdefault(row.meta["conversation"], []).append(Turn(row.text, row.meta.get("speaker")))
    long = [tuple(t[:turns]) for t in by_conversation.values() if len(t) >= turns]
    return long[:n]


def main() -> None:
    """Time the three ways over the same turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", type=Path, default=None, help="one-pass adapter (default: the shipped one)")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data} not found: the dialogues live in ../shared/data beside the repository")
    torch.set_num_threads(args.threads)
    labels = get_taxonomy("ekman").labels
    adapter = args.adapter or default_adapter_path(labels)
    labeler = open_labeler(None, adapter, labels)
    reader, taxonomy = labeler.reader, labeler.taxonomy
    scenes = dialogues(args.data, args.conversations, args.turns)
    n = sum(len(s) for s in scenes)
    modes = {
        "lone turns (no context)": [Dialogue.lone(turn.text) for scene in scenes for turn in scene],
        "conversation, one pass": [Dialogue(scene, tuple(range(len(scene)))) for scene in scenes],
        "context per turn (naive)": [Dialogue(scene[: t + 1], (t,)) for scene in scenes for t in range(len(scene))],
    }
    for todo in modes.values():
        reader.predict_dialogues(todo[:4], taxonomy, batch_size=args.batch_size)  # warm up
    seconds: dict[str, list[float]] = {name: [] for name in modes}
    tokens: dict[str, int] = {}
    for _ in range(args.repeat):  # the modes take turns, so a busy moment of the machine hits them alike
        for name, todo in modes.items():
            before = reader.stats["real_tokens"]
            tick = time.perf_counter()
            reader.predict_dialogues(todo, taxonomy, batch_size=args.batch_size)
            seconds[name].append(time.perf_counter() - tick)
            tokens[name] = reader.stats["real_tokens"] - before
    rows = [(name, statistics.median(seconds[name]), tokens[name]) for name in modes]
    base = rows[0][1]
    print(f"\n{len(scenes)} conversations x {args.turns} turns = {n} turns; adapter {labeler.version}; "
          f"{args.threads} thread(s); medians of {args.repeat}\n")
    print("| mode | median s | turns/s | tokens run | time vs lone turns |")
    print("|---|---:|---:|---:|---:|")
    for name, sec, run in rows:
        print(f"| {name} | {sec:.2f} | {n / sec:.1f} | {run:,} | {sec / base:.2f}x |")


if __name__ == "__main__":
    main()
