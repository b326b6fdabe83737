"""Push, pull and delete through the real registry with skopeo, as robots allow."""


def test_push_then_pull_only_robot_pulls_and_cannot_push(dockhand, registry, clients,
                                                         oci_image, pulled_dir, uniq):
    proj = uniq("p")
    dockhand.create_project(proj)
    pusher = dockhand.create_robot(uniq("pusher"), projects={proj: ["pull", "push"]},
                                   level="project")
    puller = dockhand.create_robot(uniq("puller"), projects={proj: ["pull"]}, level="project")
    image = oci_image()
    repo = proj + "/app"

    clients.ok(clients.push(image, registry.ref(repo, "v1"), clients.creds(pusher)))

    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(repo, "v1"), out, clients.creds(puller)))
    manifest, files = clients.read_layout(out)
    assert [layer["digest"] for layer in manifest["layers"]] == [image.layer_digest]
    assert manifest["config"]["digest"] == image.config_digest
    assert files == {"hello.txt": image.content.encode()}

    # A new image needs blob uploads (POST: pull+push); the same image under a
    # new tag needs only the manifest PUT (pull+push). Both refused.
    clients.denied(clients.push(oci_image(), registry.ref(repo, "v2"), clients.creds(puller)))
    clients.denied(clients.push(image, registry.ref(repo, "v3"), clients.creds(puller)))
    for tag in ("v2", "v3"):
        clients.missing(clients.pull(registry.ref(repo, tag), pulled_dir(),
                                     clients.creds(pusher)))


def test_robot_with_delete_deletes(dockhand, registry, clients, oci_image, pulled_dir, uniq):
    proj = uniq("p")
    dockhand.create_project(proj)
    pusher = dockhand.create_robot(uniq("pusher"), projects={proj: ["pull", "push"]},
                                   level="project")
    deleter = dockhand.create_robot(uniq("deleter"), projects={proj: ["pull", "delete"]},
                                    level="project")
    repo = proj + "/app"
    ref = registry.ref(repo, "v1")
    clients.ok(clients.push(oci_image(), ref, clients.creds(pusher)))

    # Push does not bring delete: the registry refuses DELETE with pull+push.
    clients.denied(clients.delete(ref, clients.creds(pusher)))
    clients.ok(clients.pull(ref, pulled_dir(), clients.creds(pusher)))

    clients.ok(clients.delete(ref, clients.creds(deleter)))
    clients.missing(clients.pull(ref, pulled_dir(), clients.creds(deleter)))
    clients.missing(clients.pull(ref, pulled_dir(), clients.creds(pusher)))


def test_robot_without_the_project_is_refused(dockhand, registry, clients, oci_image,
                                              pulled_dir, uniq):
    proj, elsewhere = uniq("p"), uniq("q")
    dockhand.create_project(proj)
    dockhand.create_project(elsewhere)
    pusher = dockhand.create_robot(uniq("pusher"), projects={proj: ["pull", "push"]})
    outsider = dockhand.create_robot(uniq("outsider"),
                                     projects={elsewhere: ["pull", "push", "delete"]})
    ref = registry.ref(proj + "/app", "v1")
    clients.ok(clients.push(oci_image(), ref, clients.creds(pusher)))

    clients.denied(clients.pull(ref, pulled_dir(), clients.creds(outsider)))
    clients.denied(clients.push(oci_image(), registry.ref(proj + "/app", "v2"),
                                 clients.creds(outsider)))
    clients.denied(clients.push(oci_image(), registry.ref(proj + "/other", "v1"),
                                 clients.creds(outsider)))
    clients.denied(clients.delete(ref, clients.creds(outsider)))
    # The image is still there, untouched.
    clients.ok(clients.pull(ref, pulled_dir(), clients.creds(pusher)))
    # The outsider's own project works, so the refusals above were about the project.
    clients.ok(clients.push(oci_image(), registry.ref(elsewhere + "/app", "v1"),
                            clients.creds(outsider)))


def test_project_robot_of_a_cannot_push_to_b(dockhand, registry, clients, oci_image,
                                             pulled_dir, uniq):
    a, b = uniq("a"), uniq("b")
    dockhand.create_project(a)
    dockhand.create_project(b)
    robot_a = dockhand.create_robot(uniq("ci"), projects={a: ["pull", "push"]}, level="project")
    robot_b = dockhand.create_robot(uniq("ci"), projects={b: ["pull", "push"]}, level="project")
    assert a in robot_a["name"] and b in robot_b["name"]

    clients.ok(clients.push(oci_image(), registry.ref(a + "/app", "v1"),
                            clients.creds(robot_a)))
    clients.denied(clients.push(oci_image(), registry.ref(b + "/app", "v1"),
                                 clients.creds(robot_a)))
    clients.missing(clients.pull(registry.ref(b + "/app", "v1"), pulled_dir(),
                                 clients.creds(robot_b)))

    clients.ok(clients.push(oci_image(), registry.ref(b + "/app", "v1"),
                            clients.creds(robot_b)))
    clients.denied(clients.pull(registry.ref(b + "/app", "v1"), pulled_dir(),
                                 clients.creds(robot_a)))
