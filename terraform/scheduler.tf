# Cloud Scheduler: the periodic features rebuild, an authenticated POST to the API function.

resource "google_cloud_scheduler_job" "rebuild_features" {
  name        = "${var.name_prefix}-rebuild-features"
  description = "Rebuild the derived feature tables: POST /v1/features:rebuild on the API function."
  region      = var.region
  schedule    = var.rebuild_schedule
  time_zone   = var.rebuild_time_zone
  # Scheduler counts an attempt failed when the API has not answered within this time, and
  # retries it as retry_config says. 30 minutes is the maximum for HTTP targets.
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = local.rebuild_endpoint
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    # Cloud Run checks the token's audience against the service URL.
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.api_uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler_invokes_api]
}
