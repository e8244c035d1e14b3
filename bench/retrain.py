"""Benchmark retraining's wall time per 1,000 training examples (and DPO pairs, and gold items) on CPU or GPU.

    .venv/bin/python bench/retrain.py --n 64 --steps 6 --threads 1
    .venv/bin/python bench/retrain.py --device cuda --n 512 --steps 20 --batch-size 32

Uses the real pieces of a retraining job on GoEmotions train comments (28 labels): ``sft.fit`` (SFT
steps), ``dpo.fit_dpo`` (pairs whose rejected answer carries a wrong emotion, as the job builds them)
and ``Labeler.predict`` (the gold evaluation of one adapter). Each phase is timed after one warm-up
step and scaled to 1,000 examples per epoch at the given batch size; the job's total for N training
examples, P pairs (one DPO epoch each) and G gold items is then ~ N/1000*sft + P/1000*dpo + 2*G/1000*eval.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.base import DEFAULT_CACHE_DIR, resolve_base  # noqa: E402
from models.labeler import Labeler  # noqa: E402
from models.tasks.base import Example  # noqa: E402
from models.training.config import DataConfig, ModelConfig, SFTConfig, TrainConfig  # noqa: E402
from models.training.dpo import DPOConfig, PreferencePair, encode_pair, fit_dpo, score_pairs  # noqa: E402
from models.training.sft import fit  # noqa: E402

GOEMOTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "goemotions"


def read_examples(n: int) -> tuple[list[Example], tuple[str, ...]]:
    """The first ``n`` GoEmotions train comments with their labels."""
    labels = tuple((GOEMOTIONS / "emotions.txt").read_text().split())
    out = []
    with open(GOEMOTIONS / "train.tsv", encoding="utf-8") as handle:
        for line, _ in zip(handle, range(n)):
            text, ids = line.split("\t")[:2]
            out.append(Example(text, frozenset(labels[int(i)] for i in ids.split(",")), None, None))
    return out, labels


def wrong_answers(examples: list[Example], labels: tuple[str, ...], seed: int) -> list[PreferencePair]:
    """EmPO pairs: chosen = the gold labels, rejected = one gold label swapped for a wrong one."""
    rng = random.Random(seed)
    pairs = []
    for e in examples:
        wrong = rng.choice([label for label in labels if label not in e.emotions])
        rejected = frozenset(sorted(e.emotions)[1:]) | {wrong}
        pairs.append(PreferencePair(e, Example(e.text, rejected, None, None)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="training examples (and pairs) to draw from")
    parser.add_argument("--gold", type=int, default=64, help="gold items to evaluate")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per phase (after 1 warm-up step)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = resolve_base(None, DEFAULT_CACHE_DIR)
    examples, labels = read_examples(args.n + args.gold)
    train, gold = examples[: args.n], examples[args.n :]
    out = Path("/tmp/bench-retrain")

    def sft_seconds(steps: int) -> tuple[float, object]:
        cfg = SFTConfig(
            data=DataConfig(train_file=Path("-"), labels=labels, eval_fraction=0.0),
            train=TrainConfig(output_dir=out, max_steps=steps, batch_size=args.batch_size, progress=False),
            model=ModelConfig(device=args.device),
        )
        fitted = fit(cfg, train, base)
        return fitted.meta["train_seconds"], fitted

    warm, _ = sft_seconds(1)
    total, fitted = sft_seconds(1 + args.steps)
    sft_per_step = (total - warm) / args.steps

    pairs = wrong_answers(train, labels, 0)
    dpo_cfg = lambda steps: DPOConfig(max_steps=steps, batch_size=args.batch_size, device=args.device,  # noqa: E731
                                      progress=False)
    warm_dpo = fit_dpo(fitted.model, fitted.prompter, pairs, dpo_cfg(1))["dpo_seconds"]
    timed_dpo = fit_dpo(fitted.model, fitted.prompter, pairs, dpo_cfg(1 + args.steps))["dpo_seconds"]
    dpo_per_step = (timed_dpo - warm_dpo) / args.steps
    encoded = [encode_pair(fitted.prompter, p) for p in pairs]
    started = time.time()
    score_pairs(fitted.model, fitted.prompter, encoded, args.device)  # the reference pass (and the "after" one)
    score_per_pair = (time.time() - started) / len(encoded)

    labeler = Labeler(base, None, labels, device=args.device)
    labeler.predict([g.text for g in gold[:8]], batch_size=32)  # warm-up
    started = time.time()
    labeler.predict([g.text for g in gold], batch_size=32)
    eval_per_item = (time.time() - started) / max(1, len(gold))

    per_1000 = 1000 / args.batch_size
    rows = [
        ("SFT, per 1,000 examples (1 epoch)", sft_per_step * per_1000),
        ("DPO, per 1,000 pairs (1 epoch + reference and final scoring)",
         dpo_per_step * per_1000 + 2 * 1000 * score_per_pair),
        ("gold evaluation, per 1,000 items, one adapter", eval_per_item * 1000),
    ]
    print(f"device={args.device} threads={torch.get_num_threads()} batch={args.batch_size} labels={len(labels)} "
          f"steps timed={args.steps}")
    print(f"{'phase':58s} {'seconds':>9s}")
    for name, seconds in rows:
        print(f"{name:58s} {seconds:9.1f}")


if __name__ == "__main__":
    main()
