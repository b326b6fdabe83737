"""Harbor's own robot-account scenarios, performed through the admin API (docs/design.md §5;
issue 3) against the real registry with skopeo and podman: project robots, system
robots over several projects, all-projects robots — and what disable, enable, secret
refresh, permission changes and deletions do to real clients."""

import pytest

from helpers import api as A


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


@pytest.fixture(scope="module")
def seeder(admin):
    """Credentials of a robot that can push anywhere: puts images where a test needs
    them and checks what is (not) there afterwards."""
    created = admin.create_robot(A.new_name("seeder"), A.perm("*", "pull", "push"))
    return created["name"], created["secret"]


def same_image(clients, path, image):
    manifest, files = clients.read_layout(path)
    assert [layer["digest"] for layer in manifest["layers"]] == [image.layer_digest]
    assert files == {"hello.txt": image.content.encode()}


def test_project_robot_in_its_project_a_private_b_and_a_public_c(
        admin, seeder, registry, clients, oci_image, pulled_dir, uniq):
    a = admin.create_project(uniq("a"))["name"]
    b = admin.create_project(uniq("b"))["name"]
    c = admin.create_project(uniq("c"), public=True)["name"]
    short = uniq("ci")
    robot = admin.create_robot(short, A.perm(a, "pull", "push"), level="project")
    assert robot["name"] == "robot$%s+%s" % (a, short)
    creds = (robot["name"], robot["secret"])
    img_b, img_c = oci_image(), oci_image()
    clients.ok(clients.push(img_b, registry.ref(b + "/app", "v1"), seeder))
    clients.ok(clients.push(img_c, registry.ref(c + "/app", "v1"), seeder))

    clients.ok(clients.podman_login(registry.host, *creds))
    assert clients.saved_auth(registry.host) == creds
    clients.ok(clients.podman_logout(registry.host))

    # A: push and pull
    image = oci_image()
    clients.ok(clients.push(image, registry.ref(a + "/app", "v1"), creds))
    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(a + "/app", "v1"), out, creds))
    same_image(clients, out, image)

    # B, private: neither pull nor push
    clients.denied(clients.pull(registry.ref(b + "/app", "v1"), pulled_dir(), creds))
    clients.denied(clients.push(oci_image(), registry.ref(b + "/app", "v2"), creds))
    clients.missing(clients.pull(registry.ref(b + "/app", "v2"), pulled_dir(), seeder))

    # C, public: pull, but no push
    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(c + "/app", "v1"), out, creds))
    same_image(clients, out, img_c)
    clients.denied(clients.push(oci_image(), registry.ref(c + "/app", "v2"), creds))
    clients.missing(clients.pull(registry.ref(c + "/app", "v2"), pulled_dir(), seeder))

    # disabled: cannot log in any more
    assert admin.update_robot(robot["id"], disable=True)["disable"] is True
    clients.bad_credentials(clients.podman_login(registry.host, *creds))
    assert clients.saved_auth(registry.host) is None
    clients.bad_credentials(clients.pull(registry.ref(a + "/app", "v1"), pulled_dir(), creds))
    clients.bad_credentials(clients.push(oci_image(), registry.ref(a + "/app", "v2"), creds))

    # deleted: gone
    admin.delete_robot(robot["id"])
    assert all(r["id"] != robot["id"] for r in admin.list_all("/robots", page_size=100))
    clients.bad_credentials(clients.podman_login(registry.host, *creds))
    clients.bad_credentials(clients.pull(registry.ref(a + "/app", "v1"), pulled_dir(), creds))
    # the image it pushed stays
    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(a + "/app", "v1"), out, seeder))
    same_image(clients, out, image)


def test_system_robot_over_four_projects(admin, seeder, registry, clients, oci_image,
                                         pulled_dir, uniq):
    p1, p2, p3, p4 = (admin.create_project(uniq("s%d" % i))["name"] for i in range(1, 5))
    seeded = {}
    for p in (p1, p2, p3, p4):
        seeded[p] = oci_image()
        clients.ok(clients.push(seeded[p], registry.ref(p + "/app", "v1"), seeder))
    robot = admin.create_robot(uniq("sys"), A.perm(p1, "push", "pull"), A.perm(p2, "pull"),
                               A.perm(p3, "pull", "delete"), A.perm(p4, "push"))
    name = robot["name"]
    creds = (name, robot["secret"])
    ref = lambda p, tag: registry.ref(p + "/app", tag)  # noqa: E731

    def pulls(p, who=creds):
        out = pulled_dir()
        clients.ok(clients.pull(ref(p, "v1"), out, who))
        same_image(clients, out, seeded[p])

    # p1: push + pull, no delete
    clients.ok(clients.push(oci_image(), ref(p1, "v2"), creds))
    pulls(p1)
    clients.denied(clients.delete(ref(p1, "v1"), creds))
    # p2: pull only
    pulls(p2)
    clients.denied(clients.push(oci_image(), ref(p2, "v2"), creds))
    clients.denied(clients.delete(ref(p2, "v1"), creds))
    # p3: pull + delete
    pulls(p3)
    clients.denied(clients.push(oci_image(), ref(p3, "v2"), creds))
    clients.ok(clients.delete(ref(p3, "v1"), creds))
    clients.missing(clients.pull(ref(p3, "v1"), pulled_dir(), seeder))
    # p4: push only, which brings pull
    clients.ok(clients.push(oci_image(), ref(p4, "v2"), creds))
    pulls(p4)
    clients.denied(clients.delete(ref(p4, "v1"), creds))
    # stored exactly as granted
    assert A.normalize_permissions(admin.robot(robot["id"])["permissions"]) == \
        A.normalize_permissions([A.perm(p1, "push", "pull"), A.perm(p2, "pull"),
                                 A.perm(p3, "pull", "delete"), A.perm(p4, "push")])

    # disable, then enable
    admin.update_robot(robot["id"], disable=True)
    clients.bad_credentials(clients.podman_login(registry.host, *creds))
    clients.bad_credentials(clients.pull(ref(p1, "v1"), pulled_dir(), creds))
    admin.update_robot(robot["id"], disable=False)
    clients.ok(clients.podman_login(registry.host, *creds))
    pulls(p1)

    # a manual secret: the old one fails at once, the new one works
    manual = "Scenario-Manual-Secret-42"
    admin.refresh_secret(robot["id"], manual)
    A.remember(manual, name)
    clients.bad_credentials(clients.podman_login(registry.host, *creds))
    clients.bad_credentials(clients.pull(ref(p1, "v1"), pulled_dir(), creds))
    creds = (name, manual)
    clients.ok(clients.podman_login(registry.host, *creds))
    pulls(p1, creds)

    # a project added through PUT can be pushed to; removed, it cannot, login still works
    p5 = admin.create_project(uniq("s5"))["name"]
    current = admin.robot(robot["id"])["permissions"]
    admin.update_robot(robot["id"], permissions=current + [A.perm(p5, "push", "pull")])
    img5 = oci_image()
    clients.ok(clients.push(img5, ref(p5, "v1"), creds))
    admin.update_robot(robot["id"], permissions=current)
    clients.ok(clients.podman_login(registry.host, *creds))
    clients.denied(clients.push(oci_image(), ref(p5, "v2"), creds))
    clients.denied(clients.pull(ref(p5, "v1"), pulled_dir(), creds))
    clients.missing(clients.pull(ref(p5, "v2"), pulled_dir(), seeder))

    # deleting a project leaves the robot list loading, the robot in it
    admin.delete_project(p2)
    listed = [r for r in admin.list_all("/robots", page_size=100) if r["id"] == robot["id"]]
    assert len(listed) == 1 and listed[0]["name"] == name
    assert p2 not in [p["namespace"] for p in listed[0]["permissions"]]
    assert sorted(p["namespace"] for p in admin.robot(robot["id"])["permissions"]) == \
        sorted([p1, p3, p4])
    pulls(p1, creds)

    # deleting the robot ends every login
    admin.delete_robot(robot["id"])
    clients.bad_credentials(clients.podman_login(registry.host, *creds))
    clients.bad_credentials(clients.pull(ref(p1, "v1"), pulled_dir(), creds))
    clients.bad_credentials(clients.push(oci_image(), ref(p4, "v3"), creds))


def test_system_robot_covering_all_projects(admin, registry, clients, oci_image, pulled_dir,
                                            uniq):
    before = [admin.create_project(uniq("old"))["name"],
              admin.create_project(uniq("oldpub"), public=True)["name"]]
    robot = admin.create_robot(uniq("all"), A.perm("*", "pull", "push"))
    assert [p["namespace"] for p in admin.robot(robot["id"])["permissions"]] == ["*"]
    creds = (robot["name"], robot["secret"])
    existing = [p["name"] for p in admin.list_all("/projects", model="Project", page_size=100)]
    assert "p" in existing and set(before) <= set(existing), existing
    for p in existing:
        clients.ok(clients.push(oci_image(), registry.ref(p + "/everywhere", "v1"), creds))
    later = admin.create_project(uniq("later"))["name"]
    image = oci_image()
    clients.ok(clients.push(image, registry.ref(later + "/app", "v1"), creds))
    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(later + "/app", "v1"), out, creds))
    same_image(clients, out, image)
    # every project, but only projects
    clients.denied(clients.push(oci_image(), registry.ref(uniq("nosuch") + "/app", "v1"), creds))
