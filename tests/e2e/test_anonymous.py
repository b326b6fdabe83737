"""Anonymous clients: pull from public projects only, never push."""


def test_anonymous_pull_public_only_and_never_push(dockhand, registry, clients, oci_image,
                                                   pulled_dir, uniq):
    public, private = uniq("pub"), uniq("priv")
    dockhand.create_project(public, public=True)
    dockhand.create_project(private)
    robot = dockhand.create_robot(uniq("ci"), projects={public: ["pull", "push"],
                                                         private: ["pull", "push"]})
    image = oci_image()
    public_ref = registry.ref(public + "/app", "v1")
    private_ref = registry.ref(private + "/app", "v1")
    clients.ok(clients.push(image, public_ref, clients.creds(robot)))
    clients.ok(clients.push(image, private_ref, clients.creds(robot)))

    out = pulled_dir()
    clients.ok(clients.pull(public_ref, out, None))
    manifest, files = clients.read_layout(out)
    assert [layer["digest"] for layer in manifest["layers"]] == [image.layer_digest]
    assert files == {"hello.txt": image.content.encode()}

    clients.denied(clients.push(oci_image(), registry.ref(public + "/app", "v2"), None))
    clients.denied(clients.push(image, registry.ref(public + "/app", "v3"), None))
    clients.denied(clients.delete(public_ref, None))
    clients.denied(clients.pull(private_ref, pulled_dir(), None))
    clients.ok(clients.pull(public_ref, pulled_dir(), None))


def test_public_project_is_pullable_by_any_robot(dockhand, registry, clients, oci_image,
                                                 pulled_dir, uniq):
    public, other = uniq("pub"), uniq("other")
    dockhand.create_project(public, public=True)
    dockhand.create_project(other)
    owner = dockhand.create_robot(uniq("owner"), projects={public: ["pull", "push"]},
                                  level="project")
    stranger = dockhand.create_robot(uniq("stranger"), projects={other: ["pull"]},
                                     level="project")
    ref = registry.ref(public + "/app", "v1")
    clients.ok(clients.push(oci_image(), ref, clients.creds(owner)))
    clients.ok(clients.pull(ref, pulled_dir(), clients.creds(stranger)))
    clients.denied(clients.push(oci_image(), registry.ref(public + "/app", "v2"),
                                 clients.creds(stranger)))
