# Shared values, project data and the APIs the deployment needs. The resources themselves are
# split by concern: storage.tf, pubsub.tf, sql.tf, functions.tf, iam.tf, scheduler.tf.

locals {
  labels = merge({ app = "simtel" }, var.labels)

  package_dir = coalesce(var.package_dir, "${path.module}/../dist/functions")
  # Written by `simtel package`: {"parse": {"file": "parse-<sha256 prefix>.zip", "sha256": ...,
  # "entry_point": "parse_event"}, "load": ..., "api": ...}.
  packages = jsondecode(file("${local.package_dir}/manifest.json"))

  names = {
    raw_bucket    = "${var.project_id}-${var.name_prefix}-raw"
    source_bucket = "${var.project_id}-${var.name_prefix}-sources"
    chunk_topic   = "${var.name_prefix}-chunks"
    dead_letter   = "${var.name_prefix}-chunks-dead-letter"
    sql_instance  = "${var.name_prefix}-pg"
  }

  # Cloud SQL IAM database user names: the service account email without ".gserviceaccount.com".
  db_iam_users = {
    for name, account in google_service_account.function :
    name => trimsuffix(account.email, ".gserviceaccount.com")
  }

  pubsub_agent       = "serviceAccount:${google_project_service_identity.pubsub.email}"
  storage_agent      = "serviceAccount:${data.google_storage_project_service_account.this.email_address}"
  sql_instance_name  = "projects/${var.project_id}/instances/${local.names.sql_instance}"
  api_uri            = google_cloudfunctions2_function.api.service_config[0].uri
  load_uri           = google_cloudfunctions2_function.load.service_config[0].uri
  chunk_push_path    = "/projects/${var.project_id}/topics/${local.names.chunk_topic}"
  rebuild_endpoint   = "${local.api_uri}/v1/features:rebuild"
  function_ingresses = { parse = "ALLOW_INTERNAL_ONLY", load = "ALLOW_INTERNAL_ONLY", api = "ALLOW_ALL" }
}

resource "google_project_service" "enabled" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project_id
  service = each.value
  # Other workloads in the project may use the same APIs.
  disable_on_destroy = false
}

# The Pub/Sub service agent exists only after the API is first used. Creating the identity here
# makes it exist before the dead-letter and push-authentication grants in iam.tf name it.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project_id
  service  = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

# Reading this data source also creates the Cloud Storage service agent if it does not exist yet.
data "google_storage_project_service_account" "this" {
  project = var.project_id

  depends_on = [google_project_service.enabled]
}
