"""A real Label Studio server (its own venv, no mocks) driven through label-studio-sdk.

Starts Label Studio 1.23.2 from the venv built by scripts/labelstudio-venv.sh (first build
~1-2 min, then cached), creates a project with our labeling config, imports tasks with
embedded predictions, reads them back, restarts the server and checks that everything
persisted. Skips (with the reason) when the venv cannot be built or the SDK is missing.
Takes about 1 minute: the first start of a fresh data dir runs all migrations.
"""

from __future__ import annotations

import pytest

from tests.support.labelstudio_server import LabelStudioServer, LabelStudioVenvError, ensure_venv

EMOTIONS = ["joy", "sadness", "anger", "fear", "surprise", "disgust", "neutral"]
LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="emotions" toName="text" choice="multiple">
%s
  </Choices>
  <Number name="intensity" toName="text" min="0" max="1" step="0.01"/>
  <Labels name="cause" toName="text">
    <Label value="cause"/>
  </Labels>
</View>""" % "\n".join(f'    <Choice value="{e}"/>' for e in EMOTIONS)


def prediction_result(text: str, emotions: list[str], intensity: float, cause: tuple[int, int]) -> list[dict]:
    start, end = cause
    return [
        {"from_name": "emotions", "to_name": "text", "type": "choices", "value": {"choices": emotions}},
        {"from_name": "intensity", "to_name": "text", "type": "number", "value": {"number": intensity}},
        {
            "id": f"cause-{start}-{end}",
            "from_name": "cause",
            "to_name": "text",
            "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": ["cause"]},
        },
    ]


@pytest.fixture(scope="module")
def labelstudio(tmp_path_factory):
    pytest.importorskip("label_studio_sdk", reason="label-studio-sdk==2.1.2 is not installed in this venv")
    try:
        venv = ensure_venv()
    except LabelStudioVenvError as exc:
        pytest.skip(f"cannot build the Label Studio venv (scripts/labelstudio-venv.sh): {exc}")
    server = LabelStudioServer(venv, data_dir=tmp_path_factory.mktemp("labelstudio"))
    with server:
        yield server


def test_project_with_predictions_survives_restart(labelstudio):
    from label_studio_sdk.label_interface import LabelInterface

    client = labelstudio.client()
    assert client.users.whoami().email == labelstudio.username

    project = client.projects.create(title="emo-annotator smoke", label_config=LABEL_CONFIG, maximum_annotations=2)
    assert project.maximum_annotations == 2

    expected = {}
    tasks = []
    interface = LabelInterface(LABEL_CONFIG)
    for i in range(10):
        text = f"Utterance {i}: my sister finally came home and I cried."
        ext_id = f"utt-{i:03d}"
        prediction = {
            "model_version": "emollm-test",
            "score": round(0.5 + i / 100, 2),
            "result": prediction_result(text, ["joy", "surprise"] if i % 2 else ["joy"], i / 10, (14, 24)),
        }
        # Label Studio stores whatever we send; the SDK's LabelInterface is the validator.
        assert interface.validate_prediction(prediction, return_errors=True) == []
        tasks.append({"data": {"text": text, "ext_id": ext_id}, "predictions": [prediction]})
        expected[ext_id] = (text, prediction)

    imported = client.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
    assert imported.task_count == 10
    assert imported.prediction_count == 10
    assert len(imported.task_ids) == 10

    def read_back() -> dict:
        listed = list(client.tasks.list(project=project.id, page_size=100))
        return {t.data["ext_id"]: t for t in listed}

    def check(by_ext: dict) -> None:
        assert set(by_ext) == set(expected)
        assert sorted(t.id for t in by_ext.values()) == sorted(imported.task_ids)
        for ext_id, task in by_ext.items():
            text, prediction = expected[ext_id]
            assert task.data["text"] == text
            assert len(task.predictions) == 1
            got = task.predictions[0]
            assert got.model_version == prediction["model_version"]
            assert got.score == pytest.approx(prediction["score"])
            assert got.result == prediction["result"]

    check(read_back())

    old_url = labelstudio.url
    labelstudio.restart()
    if labelstudio.url != old_url:  # the old port was taken meanwhile; rare
        client = labelstudio.client()

    # The admin token was set on the first start only and must survive the restart.
    again = client.projects.get(id=project.id)
    assert again.title == "emo-annotator smoke"
    assert again.maximum_annotations == 2
    check(read_back())
