"""The contract and the admin API are browsable (Swagger UI), and "try it out" targets the mock."""

from openapi_spec_validator import validate

from cloud_backup_mock.contract import Contract


def test_swagger_ui_of_the_contract(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and "swagger-ui" in page.text
    served = client.get("/openapi.json").json()
    assert served["servers"] == [{"url": "/", "description": "this mock server"}]  # "try it out" calls this server
    assert "`0f6e9f63600142f0a970911583522217` is accepted" in served["info"]["description"]
    assert set(served["paths"]) == set(Contract.load().document["paths"])
    validate(served)


def test_root_and_admin_root_lead_to_swagger_ui(client):
    for path, target in (("/", "/ui/"), ("/__mock", "/__mock/ui/"), ("/__mock/", "/__mock/ui/")):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (307, target)
        assert client.get(path, follow_redirects=True).status_code == 200


def test_swagger_ui_of_the_admin_api(client):
    assert client.get("/__mock/ui/").status_code == 200
    document = client.get("/__mock/openapi.json").json()
    validate(document)
    assert document["servers"] == [{"url": "/__mock", "description": "this mock server"}]
    assert {"/scenarios", "/projects/{project_id}/scenarios", "/reset", "/requests"} <= set(document["paths"])
