# Outputs contain names and addresses only. The admin password is in Secret Manager, and the
# output names the secret, never its value.

output "api_url" {
  description = "Base URL of the API function (Cloud Run URL); callers need an identity token unless api_public is true."
  value       = local.api_uri
}

output "raw_bucket" {
  description = "Bucket that receives uploads; objects under incoming/ are parsed."
  value       = google_storage_bucket.raw.name
}

output "upload_prefix" {
  description = "Where to upload telemetry files."
  value       = "gs://${google_storage_bucket.raw.name}/incoming/"
}

output "source_bucket" {
  description = "Bucket holding the function zips."
  value       = google_storage_bucket.source.name
}

output "function_sources" {
  description = "Object name of each deployed function zip, by function."
  value       = { for name, object in google_storage_bucket_object.function_source : name => object.name }
}

output "chunk_topic" {
  description = "Pub/Sub topic of chunk messages (CHUNK_TOPIC)."
  value       = google_pubsub_topic.chunks.name
}

output "dead_letter_topic" {
  description = "Pub/Sub topic that receives chunks after max_delivery_attempts (DEAD_LETTER_TOPIC)."
  value       = google_pubsub_topic.dead_letter.name
}

output "dead_letter_hold_subscription" {
  description = "Pull subscription that keeps dead-lettered chunks for inspection for seven days."
  value       = google_pubsub_subscription.dead_letter_hold.name
}

output "instance_connection_name" {
  description = "Cloud SQL instance connection name (INSTANCE_CONNECTION_NAME)."
  value       = google_sql_database_instance.main.connection_name
}

output "db_name" {
  description = "PostgreSQL database name (DB_NAME)."
  value       = google_sql_database.main.name
}

output "db_iam_users" {
  description = "IAM database user of each function (DB_IAM_USER)."
  value       = local.db_iam_users
}

output "db_admin_user" {
  description = "Built-in PostgreSQL user that owns the schema and applies migrations."
  value       = google_sql_user.admin.name
}

output "db_admin_password_secret" {
  description = "Secret Manager secret holding the admin user's password (the name only)."
  value       = google_secret_manager_secret.db_admin_password.id
}

output "service_accounts" {
  description = "Email of each service account the deployment created."
  value = merge(
    { for name, account in google_service_account.function : name => account.email },
    {
      events    = google_service_account.events.email
      scheduler = google_service_account.scheduler.email
      build     = google_service_account.build.email
    },
  )
}
