"""Benchmark the EmoLLM labeler against a naive free-generation labeler on GoEmotions dev texts.

    .venv/bin/python bench/labeler.py --n 64 --threads 1

(a) naive: the same base (+ adapter) free-generates a JSON answer with ``generate()`` (greedy, batched,
left padding); (b) ours: ``Labeler.predict`` (tree-packed branches, shared-prefix KV, restricted readout,
constrained cause decode). Reports items/s, tokens per item, and achieved GFLOP/s next to this machine's
fp32 matmul GFLOP/s measured in the same run. FLOPs count the linear layers only (2 x non-embedding
params per token slot, padding included, plus the output head where it runs): attention over ~100-300
keys adds a few percent for this model size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.base import DEFAULT_CACHE_DIR, load_model, load_tokenizer, resolve_base  # noqa: E402
from models.labeler import Labeler  # noqa: E402

GOEMOTIONS = Path("/work/shared/data/goemotions")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="GoEmotions dev texts for the labeler")
    parser.add_argument("--naive-n", type=int, default=None, help="texts for the naive labeler (default: --n)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (at most 2 on the shared box)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="naive generation length")
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--base", default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--data", type=Path, default=GOEMOTIONS / "dev.tsv")
    parser.add_argument("--labels", type=Path, default=GOEMOTIONS / "emotions.txt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    labels = args.labels.read_text().split()
    texts, gold = read_rows(args.data, args.n, (GOEMOTIONS / "emotions.txt").read_text().split())
    naive_texts = texts[: args.naive_n or args.n]
    base = resolve_base(args.base, args.cache_dir)
    peak = matmul_gflops()

    labeler = Labeler(base, args.adapter, labels)
    labeler.predict(texts[:2], batch_size=2)  # warm up (prefix KV, token tables)
    stats = labeler.backend.stats
    for key in stats:
        stats[key] = 0
    started = time.perf_counter()
    preds = labeler.predict(texts, batch_size=args.batch_size)
    ours_s = time.perf_counter() - started
    n_body, n_head = body_params(labeler.backend.model)
    ours_slots = stats["tree_slots"] + stats["decode_slots"] + stats["prefix"]
    ours_real = stats["tree_real"] + stats["decode_real"]
    ours_flops = 2 * n_body * ours_slots

    naive_s, p_slots, g_slots, naive_real, parsed, naive_model = naive(
        base.path, args.adapter, labels, naive_texts, args.batch_size, args.max_new_tokens
    )
    naive_flops = 2 * n_body * (p_slots + g_slots) + 2 * n_head * (len(naive_texts) + g_slots)

    n, m = len(texts), len(naive_texts)
    rows = [
        ("naive generate()", m, m / naive_s, naive_real / m, (p_slots + g_slots) / m, naive_flops / naive_s / 1e9),
        ("ours (tree+prefix KV)", n, n / ours_s, ours_real / n, ours_slots / n, ours_flops / ours_s / 1e9),
    ]
    print(f"\nbase={base.model_id} adapter={args.adapter} labels={len(labels)} threads={args.threads} "
          f"batch={args.batch_size} device=cpu fp32")
    print(f"measured fp32 matmul: {peak:.1f} GFLOP/s")
    print(f"{'labeler':24} {'items':>6} {'items/s':>8} {'tok/item':>9} {'slots/item':>10} {'GFLOP/s':>8} {'% matmul':>8}")
    for name, count, rate, tok, slots, gflops in rows:
        print(f"{name:24} {count:6d} {rate:8.2f} {tok:9.1f} {slots:10.1f} {gflops:8.1f} {100 * gflops / peak:7.0f}%")
    print(f"speed-up ours/naive: {rows[1][2] / rows[0][2]:.1f}x")
    print(f"ours tokens/item: tree {stats['tree_real'] / n:.1f} (slots {stats['tree_slots'] / n:.1f}), "
          f"cause decode {stats['decode_real'] / n:.1f} (slots {stats['decode_slots'] / n:.1f}), "
          f"shared prefix {len(labeler.prompter.prefix)} once per run")
    print(f"naive: {parsed}/{m} answers parse as JSON")
    causes = sum(p.cause is not None for p in preds)
    print(f"ours: {causes}/{n} with a cause span; mean intensity {sum(p.intensity or 0 for p in preds) / n:.2f}")
    if set(labels) <= set((GOEMOTIONS / "emotions.txt").read_text().split()):
        print(f"ours zero-shot sanity: gold-vs-other label ranking AUC {ranking_auc(preds, gold, labels):.3f} (0.5 = chance)")
    del naive_model


if __name__ == "__main__":
    main()
