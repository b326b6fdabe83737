"""Robot lifecycle as the registry's clients see it: disable/enable, all projects."""


def test_disabled_robot_cannot_log_in_and_enabled_again_can(dockhand, registry, clients, oci_image,
                                                            project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, secret = clients.creds(robot)
    image = oci_image()

    clients.ok(clients.podman_login(registry.host, user, secret))
    clients.ok(clients.podman_logout(registry.host))

    dockhand.cli("robot", "disable", str(robot["id"]))
    clients.bad_credentials(clients.podman_login(registry.host, user, secret))
    assert clients.saved_auth(registry.host) is None
    clients.bad_credentials(clients.push(image, registry.ref(proj + "/app", "v1"),
                                         (user, secret)))

    dockhand.cli("robot", "enable", str(robot["id"]))
    clients.ok(clients.podman_login(registry.host, user, secret))
    assert clients.saved_auth(registry.host) == (user, secret)
    clients.ok(clients.push(image, registry.ref(proj + "/app", "v1"), (user, secret)))


def test_all_projects_robot_pushes_into_project_created_later(dockhand, registry, clients,
                                                             oci_image, pulled_dir, uniq):
    robot = dockhand.create_robot(uniq("everywhere"), projects={}, level="system",
                                  all_projects=["pull", "push"])
    proj = uniq("later")
    dockhand.create_project(proj)
    image = oci_image()
    ref = registry.ref(proj + "/app", "v1")

    clients.ok(clients.push(image, ref, clients.creds(robot)))
    out = pulled_dir()
    clients.ok(clients.pull(ref, out, clients.creds(robot)))
    manifest, _ = clients.read_layout(out)
    assert [layer["digest"] for layer in manifest["layers"]] == [image.layer_digest]
    # "Every project" still means a project: a repository outside any project
    # (unknown first component) gets nothing.
    clients.denied(clients.push(oci_image(), registry.ref(uniq("nosuch") + "/app", "v1"),
                                 clients.creds(robot)))
