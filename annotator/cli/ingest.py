"""`annotator ingest`: stream a corpus into a project."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn,
                           TextColumn, TimeElapsedColumn)

from annotator.cli.common import (check_errors_out, console, database,
                                  err_console, report_rejections, user_errors)
from annotator.ingest.service import (REASONS, IngestOptions, IngestSummary,
                                      ingest)
from annotator.ingest.sources import STDIN, SourceError, dataset_formats
from annotator.outputs import open_output
from annotator.settings import get_settings


@user_errors
def ingest_cmd(
    path: str = typer.Argument(..., help="A .jsonl, .csv/.tsv or .parquet file, or - for standard input."),
    project: str = typer.Option(..., "--project", "-p", help="Project to add the items to."),
    fmt: str = typer.Option(None, "--format", "-f",
                            help="jsonl, csv or parquet (default: from the extension), or an annotated dataset "
                            "(goemotions, semeval-ec, semeval-ei-reg, reccon, gne, emotion-stimulus, emotionlines, "
                            "snow2008: its gold labels are kept under meta.gold)."),
    text_field: str = typer.Option("text", "--text-field", help="Field (column) holding the text."),
    id_field: str = typer.Option(None, "--id-field", help="Field (column) holding your own item id."),
    conversation_field: str = typer.Option(None, "--conversation-field",
                                           help="Field (column) naming the conversation a row is a turn of: "
                                           "turns are kept one item each, unique by (conversation, turn), even "
                                           "where their words repeat; rows without one are lone items. The "
                                           "reccon and emotionlines formats are read as conversations."),
    turn_field: str = typer.Option("turn", "--turn-field", help="With --conversation-field: the field holding "
                                   "the turn's position (a whole number)."),
    speaker_field: str = typer.Option(None, "--speaker-field", help="With --conversation-field: who said it."),
    errors_out: Path = typer.Option(None, "--errors-out", dir_okay=False,
                                    help="Write the rejected rows here, in the input's format, to fix and re-ingest."),
    max_text_chars: int = typer.Option(None, "--max-text-chars", min=1,
                                       help="Reject longer texts (default ANNOTATOR_MAX_TEXT_CHARS)."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Rows per transaction."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Stream a corpus into a project: deduplicated, resumable, bad rows kept aside.

    Every field other than the text, the id and a turn's conversation, position and speaker is kept as the
    item's metadata. Running the same file
    again adds nothing; an interrupted run continues where it stopped. Rejected rows are recorded with
    their line and reason; the command exits with 1 when any row was rejected.

    Example: annotator ingest comments.jsonl --project reddit --id-field id --errors-out rejected.jsonl
    """
    settings = get_settings()
    if fmt and fmt.lower() in dataset_formats():
        text_field, id_field = "text", "id"  # dataset readers name their fields themselves
    if path != STDIN and not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    options = IngestOptions(
        text_field=text_field, id_field=id_field, fmt=fmt, conversation_field=conversation_field,
        turn_field=turn_field, speaker_field=speaker_field,
        max_text_chars=max_text_chars or settings.max_text_chars,
        batch_size=batch_size or settings.ingest_batch_size,
    )
    engine = database()
    total = os.path.getsize(path) if os.path.isfile(path) else None
    check_errors_out(errors_out, path)
    with ExitStack() as stack:
        out = stack.enter_context(open_output(errors_out, binary=True)) if errors_out else None
        progress = Progress(
            SpinnerColumn(), TextColumn("[bold]ingest[/]"), BarColumn(), DownloadColumn(),
            TextColumn("{task.fields[rows]:>10,} rows  {task.fields[rate]:>8,.0f} rows/s  "
                       "{task.fields[rejected]:,} rejected"),
            TimeElapsedColumn(), console=err_console, disable=quiet, transient=False,
        )
        stack.enter_context(progress)
        task = progress.add_task("ingest", total=total, rows=0, rate=0.0, rejected=0)

        def on_progress(s: IngestSummary) -> None:
            progress.update(task, completed=s.bytes_read if total else None, rows=s.rows_read,
                            rate=s.rows_per_second, rejected=s.rejected)

        try:
            summary = ingest(engine, project, path, options, progress=on_progress, errors_out=out)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: committed batches are kept; run the same command again "
                              "to continue where it stopped")
            raise typer.Exit(130) from None
        except SourceError as exc:
            recorded = " (recorded in the ingest errors)" if getattr(exc, "recorded", False) else ""
            raise ValueError(f"{path}: {exc}{recorded}") from None
    _print_summary(summary, errors_out)
    if summary.rejected:
        raise typer.Exit(1)


def _print_summary(s: IngestSummary, errors_out: Path | None) -> None:
    resumed = f" (resumed after line {s.resumed_from:,})" if s.resumed_from else ""
    console.print(
        f"{escape(s.source)}{resumed}: {s.rows_read:,} rows read in {s.elapsed:.1f}s ({s.rows_per_second:,.0f} rows/s): "
        f"[green]{s.inserted:,} added[/], {s.duplicates:,} duplicates skipped, "
        f"[{'red' if s.rejected else 'green'}]{s.rejected:,} rejected[/]"
    )
    if s.label_errors:
        console.print(f"[yellow]{s.label_errors:,} row(s) stored without their gold label[/]: the label is not in "
                      "the dataset's list; the reason is in each item's metadata under label_error")
    if s.rejected:
        report_rejections(s.reasons, REASONS, errors_out, "row")
