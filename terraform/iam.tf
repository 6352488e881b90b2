# Service accounts and every IAM grant of the deployment. Each grant says why it exists. No basic
# role (owner, editor, viewer) is granted anywhere. Grants sit on the narrowest resource that
# supports them, and project-level grants exist only for roles that have no narrower resource.

# --- Service accounts --------------------------------------------------------------------------

# One runtime identity per function, so that each holds only what its own code needs.
resource "google_service_account" "function" {
  for_each = toset(["parse", "load", "api"])

  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "simtel ${each.key} function"
  description  = "Runtime identity of the ${each.key} Cloud Function."

  depends_on = [google_project_service.enabled]
}

# Identity of the deliveries into parse and load: the Eventarc triggers and the chunk push
# subscription present tokens of this account.
resource "google_service_account" "events" {
  account_id   = "${var.name_prefix}-events"
  display_name = "simtel event delivery"
  description  = "Eventarc triggers and Pub/Sub push subscriptions that invoke the parse and load functions."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "simtel scheduler invoker"
  description  = "Cloud Scheduler job that calls POST /v1/features:rebuild on the API function."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-build"
  display_name = "simtel function build"
  description  = "Cloud Build identity that turns the function zips into images."

  depends_on = [google_project_service.enabled]
}

# --- parse -------------------------------------------------------------------------------------

# parse downloads each finalized upload (and a .ldx sidecar beside it) from the raw bucket.
resource "google_storage_bucket_iam_member" "parse_reads_raw" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function["parse"].member
}

# parse publishes the chunk messages of each session to the chunk topic.
resource "google_pubsub_topic_iam_member" "parse_publishes_chunks" {
  topic  = google_pubsub_topic.chunks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["parse"].member
}

# --- Database access (parse, load, api) --------------------------------------------------------

# Each function opens connections through cloud-sql-python-connector, which needs
# cloudsql.instances.connect. Cloud SQL roles can only be granted on the project, so an IAM
# condition limits the grant to this instance.
resource "google_project_iam_member" "function_sql_client" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = each.value.member

  condition {
    title       = "only-${local.names.sql_instance}"
    description = "Limited to the simtel Cloud SQL instance."
    expression  = "resource.type == \"sqladmin.googleapis.com/Instance\" && resource.name == \"${local.sql_instance_name}\""
  }
}

# IAM database authentication logs each function in as its service account, which needs
# cloudsql.instances.login. The same instance condition applies.
resource "google_project_iam_member" "function_sql_login" {
  for_each = google_service_account.function

  project = var.project_id
  role    = "roles/cloudsql.instanceUser"
  member  = each.value.member

  condition {
    title       = "only-${local.names.sql_instance}"
    description = "Limited to the simtel Cloud SQL instance."
    expression  = "resource.type == \"sqladmin.googleapis.com/Instance\" && resource.name == \"${local.sql_instance_name}\""
  }
}

# --- Event delivery ----------------------------------------------------------------------------

# Eventarc requires the trigger identity to hold eventarc.events.receiveEvent, which exists only
# as a project-level role.
resource "google_project_iam_member" "events_receive" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.events.member
}

# The storage trigger (Eventarc) invokes parse as the events account.
resource "google_cloud_run_service_iam_member" "events_invoke_parse" {
  location = var.region
  service  = google_cloudfunctions2_function.parse.name
  role     = "roles/run.invoker"
  member   = google_service_account.events.member
}

# The chunk push subscription and the dead-letter trigger invoke load as the events account.
resource "google_cloud_run_service_iam_member" "events_invoke_load" {
  location = var.region
  service  = google_cloudfunctions2_function.load.name
  role     = "roles/run.invoker"
  member   = google_service_account.events.member
}

# Cloud Storage publishes object events to Pub/Sub for Eventarc. Eventarc documents this
# project-level grant to the Cloud Storage service agent as required for storage triggers.
resource "google_project_iam_member" "storage_agent_publishes_events" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = local.storage_agent
}

# Pub/Sub mints the OIDC token of the push subscription as the events account.
resource "google_service_account_iam_member" "pubsub_mints_events_tokens" {
  service_account_id = google_service_account.events.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# --- Dead-lettering ----------------------------------------------------------------------------

# Pub/Sub forwards undeliverable chunks to the dead-letter topic as its service agent.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

# Pub/Sub acknowledges a message on the source subscription once it has forwarded it, which needs
# subscriber rights on that subscription.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.chunks_to_load.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- API ---------------------------------------------------------------------------------------

# The scheduler job calls the rebuild endpoint with an OIDC token of the scheduler account.
resource "google_cloud_run_service_iam_member" "scheduler_invokes_api" {
  location = var.region
  service  = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

# POST /v1/uploads signs resumable upload URLs with the api account's own key through the IAM
# signBlob call, which needs token-creator rights on that account itself.
resource "google_service_account_iam_member" "api_signs_upload_urls" {
  service_account_id = google_service_account.function["api"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function["api"].member
}

# A signed upload URL acts with the signer's rights, so the api account must be able to create
# objects in the raw bucket (not read or delete them).
resource "google_storage_bucket_iam_member" "api_creates_uploads" {
  bucket = google_storage_bucket.raw.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.function["api"].member
}

# Anyone may call the API, but only when var.api_public is true. The API's own keys and rate
# limits then apply.
resource "google_cloud_run_service_iam_member" "api_public" {
  #checkov:skip=CKV_GCP_102:Created only when var.api_public is true (default false); a public API is an explicit choice.
  count = var.api_public ? 1 : 0

  location = var.region
  service  = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- Function builds ---------------------------------------------------------------------------
#
# The Cloud Functions build runs as the build account. Google's list for a custom build account
# is: write build logs, push the image to Artifact Registry, read the function source.
# NOTE: this narrower set replaces roles/cloudbuild.builds.builder, which can act as other
# service accounts. It follows that documented list but has not been tried on a live project.

# Build logs go to Cloud Logging. Log writing has no resource narrower than the project.
resource "google_project_iam_member" "build_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# The build pushes each function image to this deployment's repository.
resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# The build reads the function zip. Cloud Functions copies it into its own
# gcf-v2-sources-<project number>-<region> bucket, created on the first deploy, so the grant sits
# on the project with a condition naming that bucket prefix and the source bucket.
resource "google_project_iam_member" "build_reads_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.build.member

  condition {
    title       = "function-sources-only"
    description = "Limited to the function source buckets."
    expression  = "resource.name.startsWith(\"projects/_/buckets/${local.names.source_bucket}\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
  }
}
