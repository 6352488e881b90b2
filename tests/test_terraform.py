"""Structural checks of terraform/: parsed with python-hcl2, since providers cannot be downloaded here
(so `terraform validate` cannot run). Each test names the wiring it protects."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest

from common.packaging import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "terraform"
FUNCTION_NAMES = ("parse", "load", "api")
BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
IAM_RESOURCE = re.compile(r"^google_\w+_iam_(member|binding|policy)$")


@dataclass
class Config:
    """Every block of the configuration, merged across files."""

    resources: dict[tuple[str, str], dict] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, object] = field(default_factory=dict)
    terraform: list[dict] = field(default_factory=list)
    ephemeral: dict[tuple[str, str], dict] = field(default_factory=dict)

    def resource(self, kind: str, name: str) -> dict:
        assert (kind, name) in self.resources, f"resource {kind}.{name} is not declared"
        return self.resources[(kind, name)]

    def of_kind(self, kind: str) -> dict[str, dict]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}


def _load() -> Config:
    options = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False,
                                        strip_string_quotes=True)
    config = Config()
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=options)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    assert (kind, name) not in config.resources, f"{kind}.{name} declared twice"
                    config.resources[(kind, name)] = body
        for block in parsed.get("ephemeral", []):
            for kind, named in block.items():
                for name, body in named.items():
                    config.ephemeral[(kind, name)] = body
        for block in parsed.get("variable", []):
            config.variables.update(block)
        for block in parsed.get("output", []):
            config.outputs.update(block)
        for block in parsed.get("locals", []):
            config.locals.update(block)
        config.terraform.extend(parsed.get("terraform", []))
    return config


@pytest.fixture(scope="module")
def config() -> Config:
    return _load()


def _one(blocks: list[dict]) -> dict:
    """Return the single nested block python-hcl2 wraps in a list."""
    assert len(blocks) == 1, f"expected one block, found {len(blocks)}"
    return blocks[0]


def _walk(value, path=""):
    """Yield (path, value) for every scalar inside a parsed block."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def _optional_defaults(type_expression: str) -> dict[str, str]:
    """Return the defaults of optional(type, default) attributes in an object type expression."""
    return dict(re.findall(r"(\w+)\s*=\s*optional\(\w+,\s*\"?([^,)\"]+)\"?\)", type_expression))


# --- versions.tf ---------------------------------------------------------------------------------

def test_providers_pinned_exactly(config):
    providers = {}
    for block in config.terraform:
        for required in block.get("required_providers", []):
            providers.update(required)
    assert set(providers) == {"google", "google-beta", "random"}
    for name, spec in providers.items():
        assert spec["source"] == f"hashicorp/{name}"
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"]), f"{name} version is not exact"


def test_terraform_version_bounded(config):
    versions = [block["required_version"] for block in config.terraform if "required_version" in block]
    assert len(versions) == 1
    # Write-only arguments in sql.tf need Terraform 1.11.
    assert ">= 1.11.0" in versions[0]
    assert "< 2.0.0" in versions[0]


def test_state_backend_is_gcs(config):
    backends = [block["backend"] for block in config.terraform if "backend" in block]
    assert len(backends) == 1
    assert "gcs" in _one(backends[0])


# --- variables.tf --------------------------------------------------------------------------------

def test_variables_typed_and_described(config):
    assert config.variables
    for name, body in config.variables.items():
        assert "type" in body, f"variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"variable {name} has no description"


def test_variables_expected_present(config):
    expected = {
        "project_id", "region", "name_prefix", "api_public", "deletion_protection",
        "raw_retention_days", "failed_retention_days", "max_delivery_attempts", "db_tier",
        "db_max_connections", "parse_function", "load_function", "api_function",
    }
    missing = expected - set(config.variables)
    assert not missing, f"variables missing: {sorted(missing)}"


def test_api_public_defaults_false(config):
    assert config.variables["api_public"]["type"] == "bool"
    assert config.variables["api_public"]["default"] is False


def test_deletion_protection_defaults_true(config):
    assert config.variables["deletion_protection"]["default"] is True


def test_connection_budget_validated(config):
    conditions = " ".join(
        str(rule["condition"]) for rule in config.variables["db_max_connections"]["validation"]
    )
    for name in FUNCTION_NAMES:
        assert f"var.{name}_function.max_instances * var.{name}_function.db_pool_size" in conditions
    assert "var.db_reserved_connections" in conditions
    assert "<= var.db_max_connections" in conditions


def test_connection_budget_defaults_fit(config):
    total = int(config.variables["db_reserved_connections"]["default"])
    for name in FUNCTION_NAMES:
        defaults = _optional_defaults(config.variables[f"{name}_function"]["type"])
        total += int(defaults["max_instances"]) * int(defaults["db_pool_size"])
    assert total <= int(config.variables["db_max_connections"]["default"])


def test_max_delivery_attempts_bounded(config):
    variable = config.variables["max_delivery_attempts"]
    assert variable["default"] == 5
    condition = str(_one(variable["validation"])["condition"])
    assert ">= 5" in condition
    assert "<= 100" in condition


# --- functions.tf --------------------------------------------------------------------------------

def test_functions_declared(config):
    assert set(config.of_kind("google_cloudfunctions2_function")) == set(FUNCTION_NAMES)


def test_functions_own_service_accounts(config):
    accounts = {}
    for name in FUNCTION_NAMES:
        service = _one(config.resource("google_cloudfunctions2_function", name)["service_config"])
        accounts[name] = service["service_account_email"]
        assert accounts[name] == f'${{google_service_account.function["{name}"].email}}'
    assert len(set(accounts.values())) == len(FUNCTION_NAMES)
    for_each = config.resource("google_service_account", "function")["for_each"]
    for name in FUNCTION_NAMES:
        assert f'"{name}"' in for_each


def test_functions_python311_entry_points(config):
    for name in FUNCTION_NAMES:
        build = _one(config.resource("google_cloudfunctions2_function", name)["build_config"])
        assert build["runtime"] == "python311"
        assert build["entry_point"] == f"${{local.packages.{name}.entry_point}}"
        source = _one(_one(build["source"])["storage_source"])
        assert source["bucket"] == "${google_storage_bucket.source.name}"
        assert source["object"] == f'${{google_storage_bucket_object.function_source["{name}"].name}}'
    assert FUNCTIONS == {"parse": "parse_event", "load": "load_chunk", "api": "api"}


def test_function_sources_from_manifest(config):
    assert "manifest.json" in str(config.locals["packages"])
    source = config.resource("google_storage_bucket_object", "function_source")
    assert source["for_each"] == "${local.packages}"
    assert source["name"] == "functions/${each.value.file}"


def test_functions_environment_complete(config):
    shared = set(config.locals["function_env"])
    required = {
        "GOOGLE_CLOUD_PROJECT", "RAW_BUCKET", "CHUNK_TOPIC", "DEAD_LETTER_TOPIC",
        "INSTANCE_CONNECTION_NAME", "DB_NAME", "MAX_UPLOAD_BYTES", "CHUNK_TARGET_BYTES", "LOG_LEVEL",
    }
    assert required <= shared, f"missing from local.function_env: {sorted(required - shared)}"
    for name in FUNCTION_NAMES:
        service = _one(config.resource("google_cloudfunctions2_function", name)["service_config"])
        env = service["environment_variables"]
        assert env.startswith("${merge(local.function_env,")
        assert f"DB_IAM_USER = local.db_iam_users.{name}" in env
        assert f"DB_POOL_SIZE = tostring(var.{name}_function.db_pool_size)" in env


def test_functions_scaling_from_variables(config):
    for name in FUNCTION_NAMES:
        service = _one(config.resource("google_cloudfunctions2_function", name)["service_config"])
        assert service["max_instance_count"] == f"${{var.{name}_function.max_instances}}"
        assert service["max_instance_request_concurrency"] == f"${{var.{name}_function.concurrency}}"
        assert service["available_memory"] == f"${{var.{name}_function.memory}}"
        assert service["timeout_seconds"] == f"${{var.{name}_function.timeout_s}}"


def test_event_functions_internal_ingress(config):
    ingresses = config.locals["function_ingresses"]
    assert ingresses["parse"] == "ALLOW_INTERNAL_ONLY"
    assert ingresses["load"] == "ALLOW_INTERNAL_ONLY"


def test_db_iam_user_strips_domain(config):
    assert 'trimsuffix(account.email, ".gserviceaccount.com")' in str(config.locals["db_iam_users"])


# --- triggers ------------------------------------------------------------------------------------

def test_parse_trigger_raw_bucket(config):
    assert ("google_storage_bucket", "raw") in config.resources
    trigger = _one(config.resource("google_cloudfunctions2_function", "parse")["event_trigger"])
    assert trigger["event_type"] == "google.cloud.storage.object.v1.finalized"
    assert trigger["retry_policy"] == "RETRY_POLICY_RETRY"
    assert trigger["service_account_email"] == "${google_service_account.events.email}"
    event_filter = _one(trigger["event_filters"])
    assert event_filter["attribute"] == "bucket"
    assert event_filter["value"] == "${google_storage_bucket.raw.name}"


def test_chunk_subscription_pushes_to_load(config):
    subscription = config.resource("google_pubsub_subscription", "chunks_to_load")
    assert subscription["topic"] == "${google_pubsub_topic.chunks.id}"
    push = _one(subscription["push_config"])
    assert push["push_endpoint"] == "${local.load_uri}${local.chunk_push_path}"
    assert config.locals["load_uri"] == "${google_cloudfunctions2_function.load.service_config[0].uri}"
    # The topic in the push path becomes the CloudEvent source the load function checks.
    assert config.locals["chunk_push_path"] == "/projects/${var.project_id}/topics/${local.names.chunk_topic}"
    assert config.resource("google_pubsub_topic", "chunks")["name"] == "${local.names.chunk_topic}"
    token = _one(push["oidc_token"])
    assert token["service_account_email"] == "${google_service_account.events.email}"
    assert token["audience"] == "${local.load_uri}"


def test_chunk_ack_deadline_matches_timeout(config):
    subscription = config.resource("google_pubsub_subscription", "chunks_to_load")
    assert subscription["ack_deadline_seconds"] == "${var.load_function.timeout_s}"


def test_dead_letter_policy_set(config):
    subscription = config.resource("google_pubsub_subscription", "chunks_to_load")
    policy = _one(subscription["dead_letter_policy"])
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    retry = _one(subscription["retry_policy"])
    assert retry["minimum_backoff"] == "${var.retry_min_backoff_s}s"
    assert retry["maximum_backoff"] == "${var.retry_max_backoff_s}s"


def test_dead_letter_trigger_targets_load(config):
    trigger = config.resource("google_eventarc_trigger", "load_dead_letter")
    assert _one(_one(trigger["transport"])["pubsub"])["topic"] == "${google_pubsub_topic.dead_letter.id}"
    destination = _one(_one(trigger["destination"])["cloud_run_service"])
    assert destination["service"] == "${google_cloudfunctions2_function.load.name}"
    criteria = _one(trigger["matching_criteria"])
    assert criteria["value"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert trigger["service_account"] == "${google_service_account.events.email}"


def test_pubsub_agent_dead_letter_grants(config):
    publisher = config.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert publisher["topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == "${local.pubsub_agent}"
    subscriber = config.resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert subscriber["subscription"] == "${google_pubsub_subscription.chunks_to_load.id}"
    assert subscriber["role"] == "roles/pubsub.subscriber"
    assert subscriber["member"] == "${local.pubsub_agent}"
    assert "google_project_service_identity.pubsub.email" in config.locals["pubsub_agent"]


def test_events_account_invokes_parse_and_load(config):
    for name in ("parse", "load"):
        grant = config.resource("google_cloud_run_service_iam_member", f"events_invoke_{name}")
        assert grant["service"] == f"${{google_cloudfunctions2_function.{name}.name}}"
        assert grant["role"] == "roles/run.invoker"
        assert grant["member"] == "${google_service_account.events.member}"


# --- scheduler.tf --------------------------------------------------------------------------------

def test_scheduler_posts_rebuild_with_oidc(config):
    job = config.resource("google_cloud_scheduler_job", "rebuild_features")
    target = _one(job["http_target"])
    assert target["http_method"] == "POST"
    assert target["uri"] == "${local.rebuild_endpoint}"
    assert config.locals["rebuild_endpoint"] == "${local.api_uri}/v1/features:rebuild"
    assert config.locals["api_uri"] == "${google_cloudfunctions2_function.api.service_config[0].uri}"
    token = _one(target["oidc_token"])
    assert token["service_account_email"] == "${google_service_account.scheduler.email}"
    assert token["audience"] == "${local.api_uri}"


def test_scheduler_account_invokes_api(config):
    grant = config.resource("google_cloud_run_service_iam_member", "scheduler_invokes_api")
    assert grant["service"] == "${google_cloudfunctions2_function.api.name}"
    assert grant["role"] == "roles/run.invoker"
    assert grant["member"] == "${google_service_account.scheduler.member}"


# --- IAM -----------------------------------------------------------------------------------------

def test_public_invoker_only_under_variable(config):
    public = []
    for (kind, name), body in config.resources.items():
        if not IAM_RESOURCE.match(kind):
            continue
        members = [body.get("member")] + list(body.get("members", []))
        if any(member in PUBLIC_MEMBERS for member in members):
            public.append((kind, name, body))
    assert len(public) == 1, f"public grants: {[(k, n) for k, n, _ in public]}"
    kind, name, body = public[0]
    assert kind == "google_cloud_run_service_iam_member"
    assert body["service"] == "${google_cloudfunctions2_function.api.name}"
    assert body["count"] == "${var.api_public ? 1 : 0}"


def test_no_basic_roles(config):
    roles = [
        (f"{kind}.{name}{path}", value)
        for (kind, name), body in config.resources.items()
        for path, value in _walk(body)
        if path.endswith((".role", ".roles"))
    ]
    assert roles, "no IAM roles found; the parser output changed"
    for where, role in roles:
        assert role not in BASIC_ROLES, f"{where} grants basic role {role}"


def test_no_basic_roles_in_text():
    for path in TERRAFORM.glob("*.tf"):
        text = path.read_text()
        for role in BASIC_ROLES:
            assert f'"{role}"' not in text, f"{path.name} names {role}"


def test_iam_grants_commented():
    block = re.compile(r'^resource "(google_\w+_iam_(?:member|binding))" "(\w+)" \{$')
    for path in TERRAFORM.glob("*.tf"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            match = block.match(line)
            if not match:
                continue
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#"), (
                f"{path.name}:{number + 1} {match.group(1)}.{match.group(2)} has no comment above it"
            )


def test_sql_grants_limited_to_instance(config):
    for name in ("function_sql_client", "function_sql_login"):
        grant = config.resource("google_project_iam_member", name)
        assert grant["for_each"] == "${google_service_account.function}"
        expression = _one(grant["condition"])["expression"]
        assert "sqladmin.googleapis.com/Instance" in expression
        assert "${local.sql_instance_name}" in expression
    client = config.resource("google_project_iam_member", "function_sql_client")
    login = config.resource("google_project_iam_member", "function_sql_login")
    assert client["role"] == "roles/cloudsql.client"
    assert login["role"] == "roles/cloudsql.instanceUser"


def test_parse_grants_read_and_publish(config):
    read = config.resource("google_storage_bucket_iam_member", "parse_reads_raw")
    assert read["bucket"] == "${google_storage_bucket.raw.name}"
    assert read["role"] == "roles/storage.objectViewer"
    assert read["member"] == '${google_service_account.function["parse"].member}'
    publish = config.resource("google_pubsub_topic_iam_member", "parse_publishes_chunks")
    assert publish["topic"] == "${google_pubsub_topic.chunks.id}"
    assert publish["role"] == "roles/pubsub.publisher"
    assert publish["member"] == '${google_service_account.function["parse"].member}'


# --- storage.tf ----------------------------------------------------------------------------------

def test_raw_bucket_locked_down(config):
    bucket = config.resource("google_storage_bucket", "raw")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert _one(bucket["versioning"])["enabled"] is True


def test_raw_bucket_lifecycle_prefixes(config):
    rules = config.resource("google_storage_bucket", "raw")["lifecycle_rule"]
    by_prefix = {}
    for rule in rules:
        condition = _one(rule["condition"])
        for prefix in condition.get("matches_prefix", []):
            by_prefix[prefix] = (condition["age"], _one(rule["action"])["type"])
    assert by_prefix["incoming/"] == ("${var.raw_retention_days}", "Delete")
    assert by_prefix["failed/"] == ("${var.failed_retention_days}", "Delete")


def test_source_bucket_locked_down(config):
    bucket = config.resource("google_storage_bucket", "source")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"


# --- sql.tf --------------------------------------------------------------------------------------

def test_sql_instance_postgres15_connector_only(config):
    instance = config.resource("google_sql_database_instance", "main")
    assert instance["database_version"] == "POSTGRES_15"
    settings = _one(instance["settings"])
    assert settings["connector_enforcement"] == "REQUIRED"
    ip = _one(settings["ip_configuration"])
    assert "authorized_networks" not in ip
    assert ip["ssl_mode"] == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"


def test_sql_instance_backups_pitr(config):
    settings = _one(config.resource("google_sql_database_instance", "main")["settings"])
    backup = _one(settings["backup_configuration"])
    assert backup["enabled"] is True
    assert backup["point_in_time_recovery_enabled"] is True


def test_sql_instance_flags(config):
    settings = _one(config.resource("google_sql_database_instance", "main")["settings"])
    flags = {flag["name"]: flag["value"] for flag in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on"
    assert flags["max_connections"] == "${tostring(var.db_max_connections)}"
    assert flags["log_connections"] == "on"


def test_sql_iam_users_per_function(config):
    users = config.resource("google_sql_user", "function")
    assert users["for_each"] == "${local.db_iam_users}"
    assert users["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"


def test_admin_password_write_only(config):
    admin = config.resource("google_sql_user", "admin")
    assert "password" not in admin
    assert admin["password_wo"] == "${ephemeral.random_password.db_admin.result}"
    secret = config.resource("google_secret_manager_secret_version", "db_admin_password")
    assert "secret_data" not in secret
    assert secret["secret_data_wo"] == "${ephemeral.random_password.db_admin.result}"
    assert ("random_password", "db_admin") in config.ephemeral


def test_outputs_hold_no_secret(config):
    for name, output in config.outputs.items():
        assert str(output.get("description", "")).strip(), f"output {name} has no description"
        value = str(output["value"])
        assert "random_password" not in value
        assert "secret_version" not in value
        assert "password_wo" not in value


# --- tools ---------------------------------------------------------------------------------------

def test_terraform_fmt_clean():
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform binary not on PATH")
    result = subprocess.run([binary, "fmt", "-check", "-recursive", str(TERRAFORM)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"terraform fmt would change: {result.stdout}{result.stderr}"


@pytest.mark.slow
def test_checkov_passes():
    if not (ROOT / ".venv-checkov" / "bin" / "checkov").exists():
        pytest.skip("checkov venv missing; run .ci/checkov.sh once to create it")
    result = subprocess.run(["bash", str(ROOT / ".ci" / "checkov.sh")], check=False,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Failed checks: 0" in result.stdout


def test_api_signs_uploads_and_trusts_scheduler(config):
    service = _one(config.resource("google_cloudfunctions2_function", "api")["service_config"])
    env = service["environment_variables"]
    assert "API_OIDC_EMAILS = google_service_account.scheduler.email" in env
    assert 'API_SIGNER_EMAIL = google_service_account.function["api"].email' in env
    signer = config.resource("google_service_account_iam_member", "api_signs_upload_urls")
    assert signer["role"] == "roles/iam.serviceAccountTokenCreator"
    assert signer["member"] == signer["service_account_id"].replace(".name", ".member")
    creator = config.resource("google_storage_bucket_iam_member", "api_creates_uploads")
    assert creator["role"] == "roles/storage.objectCreator"
    assert creator["bucket"] == "${google_storage_bucket.raw.name}"
