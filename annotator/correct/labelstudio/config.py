"""The Label Studio labeling config for a project, generated from its taxonomy.

Control names are a contract shared with :mod:`annotator.correct.labelstudio.tasks` (which writes results
under them) and :mod:`annotator.correct.labelstudio.results` (which reads them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

TEXT = "text"  # the <Text> object; tasks carry the item text in data["text"]
EMOTIONS = "emotions"  # <Choices choice="multiple">
INTENSITY = "intensity"  # <Number min=0 max=1 step=0.01>: the item's overall intensity
EMOTION_INTENSITY_PREFIX = "intensity_"  # one <Number> per label, shown while that label is chosen
CAUSE = "cause"  # <Labels> over the text; the one label is also called "cause"
CAUSE_LABEL = "cause"
# Dialogue projects (items that are turns of conversations) also have:
DIALOGUE = "dialogue"  # <Paragraphs layout="dialogue">: the turns before the item, data["dialogue"]
CONTEXT_CAUSE = "context_cause"  # <ParagraphLabels> over the dialogue: a cause in an earlier turn
CAUSE_OUTSIDE = "cause_outside"  # <Choices> with one choice: the cause is not in the conversation
OUTSIDE_CHOICE = "not in the conversation"
# A taxonomy without "neutral" (Ekman, E-c, Plutchik) gets one more emotion choice, so that an annotator can
# say an item carries none (the choices are required, and an unanswered field is not "none")
NO_EMOTION = "no emotion"
INTENSITY_MIN = 0.0
INTENSITY_MAX = 1.0
INTENSITY_STEP = 0.01


def no_emotion_choice(labels: Sequence[str]) -> bool:
    """Whether the emotions offer the :data:`NO_EMOTION` choice (taxonomies without a ``neutral`` label)."""
    return "neutral" not in labels


def emotion_intensity(label: str) -> str:
    """The control name of one emotion's intensity (labels are lower-case words, so it is a valid name)."""
    return f"{EMOTION_INTENSITY_PREFIX}{label}"


def labeling_config(labels: Sequence[str], dialogue: bool = False) -> str:
    """Labeling config XML: the text, the emotions (multi-choice, required; "no emotion" too where the
    taxonomy has no ``neutral``), the overall intensity, an intensity per chosen emotion (each shown only
    while its emotion is chosen) and the cause span.

    ``dialogue``: the turns before the item are shown above it as a dialogue (speakers, turns), a cause may
    be marked in any of them (``context_cause``), or said to be outside the conversation.

    >>> "<Choice value=\\"joy\\"/>" in labeling_config(["joy", "anger"])
    True
    """
    if not labels:
        raise ValueError("a labeling config needs at least one emotion label")
    offered = [*labels, NO_EMOTION] if no_emotion_choice(labels) else list(labels)
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in offered)
    per_emotion = "\n".join(
        f"""  <View visibleWhen="choice-selected" whenTagName="{EMOTIONS}" whenChoiceValue={quoteattr(label)}>
    <Header value={quoteattr(f"Intensity of {label}")} size="6"/>
    <Number name={quoteattr(emotion_intensity(label))} toName="{TEXT}" min="{INTENSITY_MIN:g}" max="{INTENSITY_MAX:g}" step="{INTENSITY_STEP:g}"/>
  </View>""" for label in labels)
    context = f"""  <Header value="The conversation before this turn"/>
  <ParagraphLabels name="{CONTEXT_CAUSE}" toName="{DIALOGUE}">
    <Label value="{CAUSE_LABEL}" background="#ffa39e"/>
  </ParagraphLabels>
  <Paragraphs name="{DIALOGUE}" value="${DIALOGUE}" layout="dialogue" nameKey="speaker" textKey="text"/>
  <Header value="The turn to label"/>
""" if dialogue else ""
    outside = f"""
  <Choices name="{CAUSE_OUTSIDE}" toName="{TEXT}" choice="multiple">
    <Choice value={quoteattr(OUTSIDE_CHOICE)}/>
  </Choices>""" if dialogue else ""
    return f"""<View>
{context}  <Labels name="{CAUSE}" toName="{TEXT}">
    <Label value="{CAUSE_LABEL}" background="#ffa39e"/>
  </Labels>
  <Text name="{TEXT}" value="${TEXT}"/>{outside}
  <Header value="Emotions"/>
  <Choices name="{EMOTIONS}" toName="{TEXT}" choice="multiple" showInline="true" required="true">
{choices}
  </Choices>
  <Header value="Intensity (0 to 1)"/>
  <Number name="{INTENSITY}" toName="{TEXT}" min="{INTENSITY_MIN:g}" max="{INTENSITY_MAX:g}" step="{INTENSITY_STEP:g}"/>
{per_emotion}
</View>"""
