"""`annotator train` and `annotator evaluate`: fit a LoRA adapter on dataset files, and measure one."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from annotator.cli.common import console, database, user_errors
from annotator.db import session_scope
from annotator.label.adapters import adapter_meta, register_adapter
from annotator.retrain.evaluation import evaluation_adapter, gold_examples, rounded, score_examples
from annotator.retrain.training import (
    DataSpec,
    TrainOptions,
    TrainRequest,
    new_run_dir,
    parse_data_spec,
    read_run_dir,
    run_training,
)
from annotator.settings import get_settings
from annotator.taxonomy import get_taxonomy


@user_errors
def train_cmd(
    data: list[str] = typer.Option(None, "--data", help="FILE[:FORMAT[:LIMIT]], repeatable: a dataset file or "
                                   "folder, its format (detected from the name if left out) and at most LIMIT "
                                   "examples from it."),
    taxonomy: list[str] = typer.Option(["goemotions"], "--taxonomy", "-t", help="Taxonomy to train, repeatable: "
                                       "the one-pass readout trains a head for each."),
    readout: str = typer.Option("onepass", "--readout", help="onepass (heads on one forward pass; default) or "
                                "instruction (the prompt readout, one taxonomy)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder (the one printed when it "
                                "started) from its last checkpoint; every other option is taken from it."),
    continue_from: Path = typer.Option(None, "--continue-from", help="Start from this adapter folder's weights "
                                       "and heads instead of fresh ones. Given the same data, seed and batch size "
                                       "it was trained with, the run goes on with the batches after its last one "
                                       "(records it has not seen), under a fresh warmup and decay over the new "
                                       "steps; its readout must be --readout's."),
    context: bool = typer.Option(True, "--context/--no-context", help="One-pass: train turns of conversations "
                                 "(reccon, emotionlines) after the turns before them, or each alone."),
    out: Path = typer.Option(None, "--out", help="Adapters are written to OUT/<version>/ "
                             "(default ANNOTATOR_ADAPTERS_DIR)."),
    split: str = typer.Option("train", "--split", help="Dataset split to train on ('any' for every split)."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.0001, help="Passes over the data (ignored with --max-steps)."),
    max_steps: int = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps."),
    max_minutes: float = typer.Option(None, "--max-minutes", min=0.01, help="Stop training after this long "
                                      "(the adapter is still saved); the LR schedule still plans for all steps."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Examples per step."),
    lr: float = typer.Option(2e-4, "--lr", min=0.0, help="Peak learning rate of the LoRA weights."),
    head_lr: float = typer.Option(1e-3, "--head-lr", min=0.0, help="Peak learning rate of the one-pass heads."),
    frozen_layers: int = typer.Option(18, "--frozen-layers", min=0, help="One-pass: lower layers without adapter "
                                      "(computed once per example, so training runs only the layers above)."),
    checkpoint_every: int = typer.Option(100, "--checkpoint-every", min=1, help="One-pass: steps between checkpoints."),
    max_examples: int = typer.Option(None, "--max-examples", min=1, help="Use at most this many examples in all."),
    eval_fraction: float = typer.Option(0.05, "--eval-fraction", min=0.0, max=0.99,
                                        help="Share held out for the metrics (and, one-pass, the thresholds)."),
    seed: int = typer.Option(0, "--seed", help="Seeds sampling, order and LoRA init."),
    lora_r: int = typer.Option(16, "--lora-r", min=1, help="LoRA rank (alpha is twice the rank)."),
    negatives_per_example: int = typer.Option(None, "--negatives-per-example", min=1, help="Instruction readout: "
                                              "each step trains on all of an example's emotions but only N of its "
                                              "absent ones, up-weighted so probabilities stay calibrated."),
    fp16_weights: bool = typer.Option(False, "--fp16-weights", help="Save the adapter's weights as fp16 "
                                      "(half the size; metrics are measured on the rounded weights)."),
    device: str = typer.Option(None, "--device", help="cpu, cuda or auto (default ANNOTATOR_DEVICE)."),
    run_name: str = typer.Option("sft", "--run-name", help="First part of the adapter version."),
    register: bool = typer.Option(False, "--register", help="Record the adapter in the adapters table."),
    project: str = typer.Option(None, "--project", help="Project the registered adapter belongs to."),
    activate: bool = typer.Option(False, "--activate", help="Make it the project's active adapter."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train an adapter on dataset files and write a versioned adapter folder.

    A one-pass run keeps checkpoints in OUT/<run name>-<time>.partial/ (printed at the start); after a stop,
    `annotator train --resume <that folder>` continues it to the same result.

    Example: annotator train --data ../shared/data/goemotions:goemotions:2000 --taxonomy goemotions
    --max-steps 200 --out adapters --register --project reddit --activate
    """
    if activate and project is None:
        raise ValueError("--activate needs --project")
    if continue_from is not None:
        trained_for = adapter_meta(continue_from).get("readout") or "instruction"
        if trained_for.split(".")[0] != readout:
            raise ValueError(f"{continue_from} holds a {trained_for} adapter; continue it with --readout "
                             f"{trained_for.split('.')[0]}")
    if resume is not None:
        request = read_run_dir(resume)
        run_dir: Path | None = resume
        console.print(f"resuming {resume} ({len(request.data)} dataset(s), taxonomies {', '.join(request.taxonomies)})")
    else:
        if not data:
            raise ValueError("pass --data FILE[:FORMAT[:LIMIT]] (or --resume RUN_FOLDER)")
        for spec in data:
            parse_data_spec(spec)  # fail now, before a run folder is made, on a missing file or unknown format
        names = tuple(get_taxonomy(name).name for name in dict.fromkeys(taxonomy))
        settings = get_settings()
        options = TrainOptions(epochs=epochs, max_steps=max_steps,
                               max_seconds=max_minutes * 60 if max_minutes else None, batch_size=batch_size,
                               learning_rate=lr, max_examples=max_examples, seed=seed,
                               device=device or settings.device, eval_fraction=eval_fraction, run_name=run_name,
                               progress=not quiet, lora_r=lora_r, lora_alpha=2 * lora_r,
                               negatives_per_example=negatives_per_example, fp16_weights=fp16_weights,
                               readout=readout, frozen_layers=frozen_layers, head_learning_rate=head_lr,
                               checkpoint_every=checkpoint_every,
                               init_adapter=str(continue_from.resolve()) if continue_from else None,
                               context=context)
        request = TrainRequest(tuple(data), names, None if split == "any" else split,
                               str(out or settings.adapters_dir), options)
        run_dir = new_run_dir(request) if readout == "onepass" else None
        if run_dir is not None:
            console.print(f"checkpoints in {run_dir} (after a stop: annotator train --resume {run_dir})")
    path = run_training(request, run_dir)
    meta = adapter_meta(path)
    console.print(f"adapter [bold]{meta['version']}[/] written to {path}")
    console.print(json.dumps(meta.get("metrics", {}), indent=2))
    if register or project or activate:
        with session_scope(database()) as db:
            adapter = register_adapter(db, path, project, activate)
            console.print(f"registered as {adapter.version} (status {adapter.status})")


@user_errors
def evaluate_cmd(
    data: Path = typer.Option(..., "--data", exists=True, help="Dataset file or folder with gold labels."),
    fmt: str = typer.Option(None, "--format", help="Dataset format (detected from the name if left out)."),
    adapter: str = typer.Option(None, "--adapter", help="Adapter version (registered) or folder; default: "
                                "ANNOTATOR_DEFAULT_ADAPTER."),
    zero_shot: bool = typer.Option(False, "--zero-shot", help="Evaluate the bare base model, without adapter."),
    taxonomy: str = typer.Option("goemotions", "--taxonomy", "-t", help="Taxonomy the dataset's emotions are "
                                 "mapped onto; must be the adapter's."),
    split: str = typer.Option("dev", "--split", help="Dataset split ('any' for every split)."),
    limit: int = typer.Option(None, "--limit", min=1, help="A seeded sample of at most N examples."),
    seed: int = typer.Option(0, "--seed", help="Seeds the --limit sample."),
    device: str = typer.Option(None, "--device", help="cpu, cuda or auto (default ANNOTATOR_DEVICE)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Texts per forward pass."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    context: bool = typer.Option(None, "--context/--no-context", help="Read each turn of a conversation "
                                 "(reccon, emotionlines) after the turns before it, or alone; default: as the "
                                 "adapter was trained (a one-pass adapter trained on conversations reads them "
                                 "in context)."),
) -> None:
    """Measure an adapter (or the zero-shot base) on a labeled dataset split.

    Metrics: emotion macro/micro-F1, Jaccard and calibration error (ECE); intensity Pearson r and MAE; cause
    token F1 and exact match.

    Example: annotator evaluate --adapter adapters/default/default-20260101-000000-abcd1234
    --data ../shared/data/goemotions --format goemotions --limit 300 --json
    """
    tax = get_taxonomy(taxonomy)
    path = evaluation_adapter(adapter, tax, zero_shot, database)
    spec = parse_data_spec(f"{data}:{fmt or ''}")
    spec = DataSpec(spec.path, spec.fmt, limit)
    examples = gold_examples(spec, tax, None if split == "any" else split, seed)
    metrics = score_examples(path, examples, tax.labels, device=device or get_settings().device,
                             batch_size=batch_size, context=context).metrics
    result = {"adapter": str(path) if path else None, "data": str(data), "format": spec.fmt, "split": split,
              "taxonomy": tax.name, **rounded(metrics)}
    if as_json:
        typer.echo(json.dumps(result))
        return
    for key, value in result.items():
        console.print(f"{key:18} {value}")
