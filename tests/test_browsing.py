"""The contract and the admin API are browsable (Swagger UI), and "try it out" targets the mock."""

from openapi_spec_validator import validate

from cloud_backup_mock.contract import Contract


def test_swagger_ui_of_the_contract(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and "swagger-ui" in page.text
    served = client.get("/openapi.json").json()
    assert served["servers"] == [{"url": ""}]  # relative: "try it out" calls this server
    assert set(served["paths"]) == set(Contract.load().document["paths"])


def test_swagger_ui_of_the_admin_api(client):
    assert client.get("/__mock/ui/").status_code == 200
    document = client.get("/__mock/openapi.json").json()
    validate(document)
    assert {"/scenarios", "/projects/{project_id}/scenarios", "/reset", "/requests"} <= set(document["paths"])
