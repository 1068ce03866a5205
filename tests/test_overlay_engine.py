"""Overlay 1.0 semantics as this project applies them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.overlay import Action, OverlayError, apply_action, load_overlay, merge


def action(target: str, **kwargs) -> Action:
    return Action(overlay="t.overlay.yaml", index=0, target=target, description="d", reason="r", evidence="e", **kwargs)


def test_update_merges_objects_recursively():
    """An update merges into the selected object, keeping keys it does not mention."""
    doc = {"a": {"b": 1, "c": {"d": 2}}}
    apply_action(doc, action("$.a", update={"c": {"e": 3}, "f": 4}))
    assert doc == {"a": {"b": 1, "c": {"d": 2, "e": 3}, "f": 4}}


def test_update_appends_to_arrays():
    """An update on an array appends (Overlay 1.0), it does not replace."""
    doc = {"required": ["a"]}
    apply_action(doc, action("$.required", update=["b"]))
    assert doc == {"required": ["a", "b"]}


def test_update_replaces_scalars_and_reaches_every_match():
    """An update on a scalar replaces it, at every node the target selects."""
    doc = {"servers": [{"url": "x/"}, {"url": "y/"}]}
    count = apply_action(doc, action("$.servers[*].url", update="z"))
    assert count == 2
    assert doc == {"servers": [{"url": "z"}, {"url": "z"}]}


def test_update_on_root():
    """The root can be updated."""
    doc = {"a": 1}
    apply_action(doc, action("$", update={"b": 2}))
    assert doc == {"a": 1, "b": 2}


def test_remove_deletes_every_selected_node():
    """remove: true deletes every selected node, list elements included."""
    doc = {"items": [{"v": 1}, {"v": 2}, {"v": 1}], "keep": True}
    apply_action(doc, action("$.items[?@.v == 1]", remove=True))
    assert doc == {"items": [{"v": 2}], "keep": True}


def test_an_action_that_selects_nothing_is_an_error():
    """A target that matches nothing raises, naming the action."""
    with pytest.raises(OverlayError, match=r"t.overlay.yaml#0: target .* selects nothing"):
        apply_action({"a": 1}, action("$.missing", update={}))


def test_merge_does_not_alias_the_update():
    """Merged values are copies: changing the result later does not change the overlay."""
    update = {"x": {"y": [1]}}
    node = merge({}, update)
    node["x"]["y"].append(2)
    assert update == {"x": {"y": [1]}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": []}, "actions"),
        ({"overlay": "1.0.0", "info": {"title": "t", "version": "1"},
          "actions": [{"target": "$.a", "description": "d", "x-reason": "r", "x-evidence": "e"}]}, "actions/0"),
        ({"overlay": "1.0.0", "info": {"title": "t", "version": "1"},
          "actions": [{"target": "$.a", "description": "d", "update": {}}]}, "actions/0"),
        ({"overlay": "1.0.0", "info": {"title": "t", "version": "1"},
          "actions": [{"target": "$.a", "description": "d", "x-reason": "r", "x-evidence": "e",
                       "update": {}, "remove": True}]}, "actions/0"),
        ({"overlay": "2.0.0", "info": {"title": "t", "version": "1"},
          "actions": [{"target": "$.a", "description": "d", "x-reason": "r", "x-evidence": "e", "remove": True}]},
         "overlay"),
    ],
    ids=["no-actions", "neither-update-nor-remove", "no-reason", "both-update-and-remove", "wrong-version"],
)
def test_malformed_overlays_are_rejected(tmp_path: Path, raw, message):
    """A malformed overlay is rejected with its file name and where it is wrong."""
    path = tmp_path / "0001-bad.overlay.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(OverlayError, match=rf"0001-bad.overlay.yaml: invalid overlay at {message}"):
        load_overlay(path)


def test_invalid_jsonpath_is_rejected(tmp_path: Path):
    """A target that is not RFC 9535 JSONPath is rejected when the overlay loads."""
    path = tmp_path / "0001-bad.overlay.yaml"
    path.write_text(yaml.safe_dump({
        "overlay": "1.0.0", "info": {"title": "t", "version": "1"},
        "actions": [{"target": "$.a[?(", "description": "d", "x-reason": "r", "x-evidence": "e", "remove": True}],
    }))
    with pytest.raises(OverlayError, match="invalid JSONPath"):
        load_overlay(path)


def test_invalid_yaml_is_rejected_with_the_file_name(tmp_path: Path):
    """An overlay that is not YAML is rejected with its file name, not a parser traceback."""
    path = tmp_path / "0001-bad.overlay.yaml"
    path.write_text("actions:\n  - target: $.a\n    x-evidence: a: b: c\n")
    with pytest.raises(OverlayError, match="0001-bad.overlay.yaml: not valid YAML"):
        load_overlay(path)
