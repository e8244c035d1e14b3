"""Benchmark the labeler's readouts against a naive free-generation labeler on GoEmotions dev texts.

    .venv/bin/python bench/labeler.py --onepass adapters/default/<version> --n 512 --naive-n 128 --repeat 3

(a) naive: the same base free-generates a JSON answer with ``generate()`` (greedy, batched, left
padding); (b) the instruction readout: ``Labeler.predict`` (tree-packed branches, shared-prefix KV,
restricted readout, constrained cause decode); (c) the one-pass readout of ``--onepass`` (every field
from one forward pass over the item's own tokens, items sorted by length). All fields (emotions,
intensity, cause) are produced by each. Reports medians over ``--repeat`` runs of items/s, tokens per
item, and achieved GFLOP/s next to this machine's fp32 matmul GFLOP/s measured in the same run (median
of one measurement per repeat). FLOPs count the linear layers only (2 x non-embedding params per token
slot, padding included, plus the output head where it runs): attention over short texts adds a few
percent for this model size. Ratios are against the naive labeler measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.base import DEFAULT_CACHE_DIR, load_model, load_tokenizer, resolve_base  # noqa: E402
from models.labeler import Labeler, open_labeler  # noqa: E402

GOEMOTIONS = REPO.parent / "shared" / "data" / "goemotions"  # ../shared beside the repository


def read_rows(path: Path, n: int, names: list[str]) -> tuple[list[str], list[set[str]]]:
    """The first ``n`` texts of a GoEmotions TSV and their gold labels (ids mapped through ``names``)."""
    texts, gold = [], []
    with open(path, encoding="utf-8") as handle:
        for line, _ in zip(handle, range(n)):
            text, ids = line.split("\t")[:2]
            texts.append(text)
            gold.append({names[int(i)] for i in ids.split(",")} if ids.strip() else set())
    return texts, gold


def ranking_auc(preds, gold: list[set[str]], labels: list[str]) -> float:
    """P(a gold label outranks a non-gold label of the same text): 0.5 = chance."""
    wins = total = 0.0
    for pred, labels_in in zip(preds, gold):
        pos = [pred.emotions[l] for l in labels if l in labels_in]
        neg = [pred.emotions[l] for l in labels if l not in labels_in]
        for p in pos:
            for q in neg:
                wins += 1.0 if p > q else 0.5 if p == q else 0.0
                total += 1
    return wins / total if total else float("nan")


def matmul_gflops(seconds: float = 2.0) -> float:
    """Measured fp32 GEMM rate at the current thread count (shapes like this model's MLP)."""
    a, b = torch.randn(2048, 576), torch.randn(576, 1536)
    for _ in range(3):
        a @ b
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        count += 1
    return count * 2 * 2048 * 576 * 1536 / (time.perf_counter() - started) / 1e9


def body_params(model: torch.nn.Module) -> tuple[int, int]:
    """(non-embedding parameter count, output-head parameter count)."""
    head = model.get_output_embeddings().weight
    embed = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    return total - embed.numel() - (0 if head is embed else head.numel()), head.numel()


def naive(base_path: Path, adapter: Path | None, labels: list[str], texts: list[str], batch_size: int, max_new: int):
    """Free generation of a JSON answer; returns (seconds, prompt slots, generated slots, real tokens, parsed)."""
    import json

    tokenizer = load_tokenizer(base_path)
    tokenizer.padding_side = "left"
    model = load_model(base_path)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).eval()
    system = (
        "You annotate emotions. Emotions: " + ", ".join(labels) + ". Reply with JSON only: "
        '{"emotions": [the emotions the text expresses], "intensity": 0-9, "cause": "exact words of the text or none"}'
    )
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
        )
        for t in texts
    ]
    prompt_slots = gen_slots = real = parsed = 0
    started = time.perf_counter()
    for lo in range(0, len(prompts), batch_size):
        enc = tokenizer(prompts[lo : lo + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        new = out[:, enc.input_ids.shape[1] :]
        prompt_slots += enc.input_ids.numel()
        gen_slots += new.numel()
        real += int(enc.attention_mask.sum()) + int((new != tokenizer.pad_token_id).sum())
        for row in tokenizer.batch_decode(new, skip_special_tokens=True):
            try:
                json.loads(row.strip())
                parsed += 1
            except ValueError:
                pass
    return time.perf_counter() - started, prompt_slots, gen_slots, real, parsed, model


def timed_onepass(labeler, texts: list[str], batch_size: int) -> tuple[float, dict[str, int], list]:
    """Seconds, token counts and predictions of one one-pass labeling run."""
    stats = labeler.reader.stats
    for key in stats:
        stats[key] = 0
    started = time.perf_counter()
    preds = labeler.predict(texts, batch_size=batch_size)
    return time.perf_counter() - started, dict(stats), preds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="GoEmotions dev texts for the readouts")
    parser.add_argument("--naive-n", type=int, default=None, help="texts for the naive labeler (default: --n)")
    parser.add_argument("--instruction-n", type=int, default=None, help="texts for the instruction readout "
                        "(default: --naive-n)")
    parser.add_argument("--batch-size", type=int, default=32, help="naive and instruction readout batch")
    parser.add_argument("--onepass-batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (at most 2 on the shared box)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="naive generation length")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each labeler; medians are reported")
    parser.add_argument("--adapter", type=Path, default=None, help="instruction-readout adapter (default: none)")
    parser.add_argument("--onepass", type=Path, default=None, help="a one-pass adapter (with a goemotions head)")
    parser.add_argument("--base", default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--data", type=Path, default=GOEMOTIONS / "dev.tsv")
    parser.add_argument("--labels", type=Path, default=GOEMOTIONS / "emotions.txt")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"{args.data} not found: pass --data (GoEmotions dev.tsv lives in ../shared/data)")
    torch.set_num_threads(args.threads)

    labels = args.labels.read_text().split()
    texts, gold = read_rows(args.data, args.n, labels)
    naive_texts = texts[: args.naive_n or args.n]
    tree_texts = texts[: args.instruction_n or args.naive_n or args.n]
    base = resolve_base(args.base, args.cache_dir)
    n_body = n_head = 0
    runs: dict[str, list[tuple[float, float, float, float]]] = {}  # name -> (items/s, tok/item, slots/item, GFLOP/s)
    peaks: list[float] = []
    tree = Labeler(base, args.adapter, labels)
    tree.predict(texts[:2], batch_size=2)  # warm up (prefix KV, token tables)
    n_body, n_head = body_params(tree.backend.model)
    onepass = open_labeler(base, args.onepass, labels) if args.onepass is not None else None
    if onepass is not None:
        onepass.predict(texts[:8], batch_size=8)
    one_preds: list = []
    for _ in range(args.repeat):
        peaks.append(matmul_gflops())
        seconds, p_slots, g_slots, naive_real, parsed, naive_model = naive(
            base.path, None, labels, naive_texts, args.batch_size, args.max_new_tokens)
        del naive_model
        m = len(naive_texts)
        runs.setdefault("naive generate()", []).append(
            (m / seconds, naive_real / m, (p_slots + g_slots) / m,
             (2 * n_body * (p_slots + g_slots) + 2 * n_head * (m + g_slots)) / seconds / 1e9))
        stats = tree.backend.stats
        for key in stats:
            stats[key] = 0
        started = time.perf_counter()
        tree_preds = tree.predict(tree_texts, batch_size=args.batch_size)
        seconds, k = time.perf_counter() - started, len(tree_texts)
        slots = stats["tree_slots"] + stats["decode_slots"] + stats["prefix"]
        runs.setdefault("instruction readout", []).append(
            (k / seconds, (stats["tree_real"] + stats["decode_real"]) / k, slots / k, 2 * n_body * slots / seconds / 1e9))
        if onepass is not None:
            seconds, stats, one_preds = timed_onepass(onepass, texts, args.onepass_batch_size)
            n = len(texts)
            runs.setdefault("one-pass readout", []).append(
                (n / seconds, stats["real_tokens"] / n, stats["slots"] / n, 2 * n_body * stats["slots"] / seconds / 1e9))
    peak = statistics.median(peaks)
    print(f"\nbase={base.model_id} instruction adapter={args.adapter} one-pass adapter={args.onepass} "
          f"labels={len(labels)} threads={args.threads} device=cpu fp32 repeats={args.repeat} (medians)")
    print(f"measured fp32 matmul: {peak:.1f} GFLOP/s (median; runs {', '.join(f'{p:.0f}' for p in peaks)})\n")
    print("| labeler | items | items/s | tokens/item | slots/item | GFLOP/s | % of matmul | vs naive |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base_rate = statistics.median(r[0] for r in runs["naive generate()"])
    counts = {"naive generate()": len(naive_texts), "instruction readout": len(tree_texts),
              "one-pass readout": len(texts)}
    for name, values in runs.items():
        rate, tok, slots, gflops = (statistics.median(v[i] for v in values) for i in range(4))
        print(f"| {name} | {counts[name]} | {rate:.2f} | {tok:.1f} | {slots:.1f} | {gflops:.1f} | "
              f"{100 * gflops / peak:.0f}% | {rate / base_rate:.1f}x |")
    print(f"\ninstruction readout: {sum(p.cause is not None for p in tree_preds)}/{len(tree_texts)} with a cause; "
          f"gold-vs-other label ranking AUC {ranking_auc(tree_preds, gold, labels):.3f} (0.5 = chance)")
    if one_preds:
        print(f"one-pass readout: {sum(p.cause is not None for p in one_preds)}/{len(texts)} with a cause; "
              f"gold-vs-other label ranking AUC {ranking_auc(one_preds, gold, labels):.3f}")


if __name__ == "__main__":
    main()
