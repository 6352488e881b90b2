# The three gen2 Cloud Functions (Python 3.11), their image repository and shared settings.

locals {
  # Environment of every function. The README's configuration table documents each variable.
  function_env = {
    GOOGLE_CLOUD_PROJECT     = var.project_id
    RAW_BUCKET               = google_storage_bucket.raw.name
    CHUNK_TOPIC              = google_pubsub_topic.chunks.name
    DEAD_LETTER_TOPIC        = google_pubsub_topic.dead_letter.name
    INSTANCE_CONNECTION_NAME = google_sql_database_instance.main.connection_name
    DB_NAME                  = google_sql_database.main.name
    # The instance has no private address (see sql.tf).
    DB_PRIVATE_IP      = "0"
    MAX_UPLOAD_BYTES   = tostring(var.max_upload_bytes)
    CHUNK_TARGET_BYTES = tostring(var.chunk_target_bytes)
    LOG_LEVEL          = var.log_level
  }
}

# Images the Cloud Functions build produces. Only the newest images are worth keeping: a
# redeploy rebuilds from the source zip.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:The images are built from this repository's public source; Google-managed encryption is enough.
  repository_id = "${var.name_prefix}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images built from the simtel function zips."

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}

# parse: one upload in the raw bucket becomes a session and a series of chunk messages.
resource "google_cloudfunctions2_function" "parse" {
  name     = "${var.name_prefix}-parse"
  location = var.region

  build_config {
    runtime           = "python311"
    entry_point       = local.packages.parse.entry_point
    docker_repository = google_artifact_registry_repository.functions.id
    service_account   = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.function_source["parse"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function["parse"].email
    max_instance_count               = var.parse_function.max_instances
    min_instance_count               = var.parse_function.min_instances
    max_instance_request_concurrency = var.parse_function.concurrency
    available_cpu                    = var.parse_function.cpu
    available_memory                 = var.parse_function.memory
    timeout_seconds                  = var.parse_function.timeout_s
    ingress_settings                 = local.function_ingresses.parse
    all_traffic_on_latest_revision   = true

    environment_variables = merge(local.function_env, {
      DB_IAM_USER  = local.db_iam_users.parse
      DB_POOL_SIZE = tostring(var.parse_function.db_pool_size)
    })
  }

  # Eventarc delivers every object finalized in the raw bucket. Eventarc filters Cloud Storage
  # events by bucket only, so the function itself decides which prefixes it parses.
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.events.email

    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.raw.name
    }
  }

  depends_on = [
    google_project_iam_member.storage_agent_publishes_events,
    google_project_iam_member.events_receive,
    google_project_iam_member.build_writes_logs,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.build_reads_sources,
  ]
}

# load: one chunk message into PostgreSQL. It has no event_trigger: the push subscription and the
# Eventarc trigger in pubsub.tf deliver to it (see the note at the top of pubsub.tf).
resource "google_cloudfunctions2_function" "load" {
  name     = "${var.name_prefix}-load"
  location = var.region

  build_config {
    runtime           = "python311"
    entry_point       = local.packages.load.entry_point
    docker_repository = google_artifact_registry_repository.functions.id
    service_account   = google_service_account.build.id
    # Without an event_trigger the platform builds the function as an HTTP function. The
    # @functions_framework.cloud_event decorator in main.py overrides that, and this says it too.
    environment_variables = {
      GOOGLE_FUNCTION_SIGNATURE_TYPE = "cloudevent"
    }

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.function_source["load"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function["load"].email
    max_instance_count               = var.load_function.max_instances
    min_instance_count               = var.load_function.min_instances
    max_instance_request_concurrency = var.load_function.concurrency
    available_cpu                    = var.load_function.cpu
    available_memory                 = var.load_function.memory
    timeout_seconds                  = var.load_function.timeout_s
    ingress_settings                 = local.function_ingresses.load
    all_traffic_on_latest_revision   = true

    environment_variables = merge(local.function_env, {
      DB_IAM_USER  = local.db_iam_users.load
      DB_POOL_SIZE = tostring(var.load_function.db_pool_size)
    })
  }

  depends_on = [
    google_project_iam_member.build_writes_logs,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.build_reads_sources,
  ]
}

# api: the HTTP API. Callers need roles/run.invoker unless var.api_public (see iam.tf).
resource "google_cloudfunctions2_function" "api" {
  #checkov:skip=CKV_GCP_124:The API serves clients outside the project, so ingress is open; IAM (run.invoker) still decides who may call it unless var.api_public.
  name     = "${var.name_prefix}-api"
  location = var.region

  build_config {
    runtime           = "python311"
    entry_point       = local.packages.api.entry_point
    docker_repository = google_artifact_registry_repository.functions.id
    service_account   = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.function_source["api"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function["api"].email
    max_instance_count               = var.api_function.max_instances
    min_instance_count               = var.api_function.min_instances
    max_instance_request_concurrency = var.api_function.concurrency
    available_cpu                    = var.api_function.cpu
    available_memory                 = var.api_function.memory
    timeout_seconds                  = var.api_function.timeout_s
    ingress_settings                 = local.function_ingresses.api
    all_traffic_on_latest_revision   = true

    environment_variables = merge(local.function_env, {
      DB_IAM_USER  = local.db_iam_users.api
      DB_POOL_SIZE = tostring(var.api_function.db_pool_size)
      # Only the scheduler account may call POST /v1/features:rebuild with an OIDC token.
      API_OIDC_EMAILS = google_service_account.scheduler.email
      # Upload URLs are signed as the api account itself.
      API_SIGNER_EMAIL = google_service_account.function["api"].email
    })
  }

  depends_on = [
    google_project_iam_member.build_writes_logs,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.build_reads_sources,
  ]
}
