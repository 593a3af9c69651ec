import pytest

from cloud_backup_mock.builder.overlay import OverlayError, apply_overlay

DOC = {"paths": {"/a/{id}": {"get": {"parameters": [{"name": "id"}], "responses": {"200": {"description": "x"},
                                                                                  "404": {"description": "y"}}}}}}


def overlay(*actions):
    return {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": list(actions)}


def test_update_merges_objects_recursively_and_leaves_the_input_alone():
    out = apply_overlay(DOC, overlay({"target": "$.paths['/a/{id}'].get", "update": {"responses": {"200": {"x": 1}}}}))
    assert out["paths"]["/a/{id}"]["get"]["responses"]["200"] == {"description": "x", "x": 1}
    assert "x" not in DOC["paths"]["/a/{id}"]["get"]["responses"]["200"]


def test_update_on_an_array_appends():
    out = apply_overlay(DOC, overlay({"target": "$.paths.*.*.parameters", "update": {"name": "X-Agent-Id"}}))
    assert [p["name"] for p in out["paths"]["/a/{id}"]["get"]["parameters"]] == ["id", "X-Agent-Id"]


def test_remove_and_key_unions():
    out = apply_overlay(DOC, overlay({"target": "$.paths.*.*.responses['200','404']", "remove": True}))
    assert out["paths"]["/a/{id}"]["get"]["responses"] == {}


def test_errors_name_the_action():
    with pytest.raises(OverlayError, match=r"action 1 \(fix\): target '\$.nothing' selects nothing"):
        apply_overlay(DOC, overlay({"target": "$.nothing", "description": "fix", "update": {}}))
    with pytest.raises(OverlayError, match="not an Overlay 1.x document"):
        apply_overlay(DOC, {"actions": []})
    with pytest.raises(OverlayError, match="neither 'update' nor 'remove: true'"):
        apply_overlay(DOC, overlay({"target": "$.paths"}))
