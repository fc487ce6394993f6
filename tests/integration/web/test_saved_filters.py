"""Saved inbox filters (常用筛选): in the page and over the API, per user."""

from __future__ import annotations

import re

from support import DATA


def test_save_use_and_delete_a_filter_in_the_inbox(session_for, api):
    assert api.deploy(DATA / "moves" / "moves.bpmn").status_code == 201
    api.start("moves")
    window = session_for("window1")
    window.html("/?tab=available&bundle=moves&sort=newest")
    r = window.post("/saved-filters", {"name": "联办待认领", "tab": "available", "bundle": "moves", "sort": "newest"})
    page = r.get_data(as_text=True)
    assert "Filter saved" in page
    link = re.search(r'<a href="([^"]+)">联办待认领</a>', page).group(1)
    assert "bundle=moves" in link and "sort=newest" in link
    assert 'id="task-' in window.html(link.replace("&amp;", "&"))
    assert "联办待认领" not in session_for("window2").html("/")  # per user
    r = window.post("/saved-filters", {"name": ""})
    assert "Give the filter a name" in r.get_data(as_text=True)
    filter_id = api.get("/api/v1/saved-filters", "window1").get_json()[0]["id"]
    r = window.post(f"/saved-filters/{filter_id}/delete")
    assert "联办待认领" not in r.get_data(as_text=True)


def test_saved_filters_api(api):
    r = api.post("/api/v1/saved-filters", "health1",
                 json={"name": "我的急件", "query": {"tab": "mine", "sort": "oldest"}})
    assert r.status_code == 201 and r.get_json()["query"] == {"tab": "mine", "sort": "oldest"}
    same = api.post("/api/v1/saved-filters", "health1", json={"name": "我的急件", "query": {"tab": "available"}})
    assert same.status_code == 201 and same.get_json()["id"] == r.get_json()["id"]  # replaced by name
    bad = api.post("/api/v1/saved-filters", "health1", json={"name": "x", "query": {"evil": "1"}})
    assert bad.status_code == 422 and "query" in bad.get_json()["errors"]
    assert [f["name"] for f in api.get("/api/v1/saved-filters", "health1").get_json()] == ["我的急件"]
    assert api.client.delete(f"/api/v1/saved-filters/{r.get_json()['id']}",
                             headers=api.headers("police1")).status_code == 404
    assert api.client.delete(f"/api/v1/saved-filters/{r.get_json()['id']}",
                             headers=api.headers("health1")).status_code == 204
