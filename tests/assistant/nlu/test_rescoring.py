"""n-best rescoring and the follow-up window's whole-piece check, with the real template parser."""

from __future__ import annotations

from assistant.nlu.rescoring import rescore, sure
from assistant.nlu.templates import TemplateParser

TEMPLATES = TemplateParser()


def _rescore(text: str, alternatives: tuple[str, ...], **kw: object) -> str:
    options: dict[str, object] = {
        "parser": TEMPLATES, "grammar": TEMPLATES, "floor": 0.5, "is_cut_off": lambda t: t.endswith(" the")
    }  # fmt: skip
    options.update(kw)
    return rescore(text, alternatives, **options)  # type: ignore[arg-type]


def test_an_alternative_the_templates_match_exactly_is_taken_over_the_best() -> None:
    # "fogs" is pocketsphinx mishearing "pause" in noise
    assert _rescore("fogs", ("boss", "pause")) == "pause"


def test_with_no_exact_match_the_best_text_stays() -> None:
    assert _rescore("fogs", ("boss",)) == "fogs"


def test_a_cut_off_best_text_is_completed_never_shortened() -> None:
    assert _rescore("turn up the", ("turn up", "turn up the heat")) == "turn up the heat"
    assert _rescore("turn up the", ("turn up",)) == "turn up the"


def test_a_cut_off_best_text_may_be_read_otherwise_with_as_many_words_by_the_templates() -> None:
    # pocketsphinx heard "a quarter" as "up or", a dangling "or"; the alternative is the request
    cut = {"is_cut_off": lambda t: t.endswith((" the", " or", " and"))}
    heard, meant = "open the passenger window up or", "open the passenger window a quarter"
    assert _rescore(heard, (meant,), **cut) == meant
    # only by the templates exactly: the parser's looser reading of as many words is no completion
    assert _rescore(heard, (meant,), grammar=None, **cut) == heard
    assert _rescore("close the windows and", ("close the windows",), **cut) == "close the windows and"


def test_a_follow_up_phrase_counts_as_exact_only_when_given() -> None:
    follow_up = lambda t: t == "and the passenger side too"  # noqa: E731
    heard, alternatives = "in the passenger side to", ("and the passenger side too",)
    assert _rescore(heard, alternatives, grammar=None, follow_up=follow_up) == alternatives[0]
    assert _rescore(heard, alternatives, grammar=None) == heard


def test_sure_needs_every_piece_matched_whole() -> None:
    assert sure("lock the doors and turn on the fog lights", TEMPLATES)
    assert not sure("i need wiper and then open the way home", TEMPLATES)
    assert sure("a bit more", TEMPLATES, follow_up=lambda t: t == "a bit more")
    assert not sure("a bit more", TEMPLATES)


def test_sure_takes_no_word_said_to_anyone_as_a_repeat_unless_a_question_waits() -> None:
    # "excuse me" in the window, between passengers, repeated the last reply
    for said in ("excuse me", "sorry", "what", "pardon", "sorry, what?", "Excuse me?"):
        assert TEMPLATES.parse(said).commands[0].intent == "assistant.repeat", said
        assert not sure(said, TEMPLATES, answers=False), said
        # "Do you want me to unlock the doors?" - "sorry?": the driver did not catch the question
        assert sure(said, TEMPLATES, answers=True), said
    for said in ("say that again", "what did you say"):
        assert sure(said, TEMPLATES, answers=False), said


def test_one_word_alone_is_only_a_stop_or_an_answer_without_the_wake_word() -> None:
    # out-of-domain talk in the window: "elephant" heard "help" at 10 dB, "oh dear" heard "demute" over music
    for said in ("help", "demute", "unmute", "louder"):
        assert TEMPLATES.parse(said).commands, said
        assert not sure(said, TEMPLATES, answers=False) and not sure(said, TEMPLATES, answers=True), said
    assert sure("stop", TEMPLATES, answers=False)
    assert sure("yes", TEMPLATES, answers=True) and not sure("yes", TEMPLATES, answers=False)
    assert sure("nope", TEMPLATES, answers=True) and sure("yes please", TEMPLATES, answers=True)
    # what a listener says to anyone is no yes without the wake word, even while a question waits
    for said in ("mhm", "okay", "right", "alright", "fine"):
        assert not sure(said, TEMPLATES, answers=True), said
    assert sure("turn up the volume", TEMPLATES, answers=False)
    assert sure("more", TEMPLATES, follow_up=lambda t: t == "more")
