# Pub/Sub: the chunk topic, its dead-letter topic, and the deliveries to the load function.
#
# Why the chunk topic reaches the load function through a push subscription declared here rather
# than through the function's own Eventarc trigger: the subscription Eventarc creates for a
# Pub/Sub trigger is managed by Eventarc, and google_cloudfunctions2_function has no argument for
# its dead-letter policy. A subscription declared here carries the retry and dead-letter policy in
# the configuration. functions-framework turns its push requests into the same CloudEvent an
# Eventarc trigger delivers, and the push URL path names the topic, so the event's source is
# //pubsub.googleapis.com/projects/P/topics/<chunk topic>.

resource "google_pubsub_topic" "chunks" {
  #checkov:skip=CKV_GCP_83:Messages are Google-managed encrypted; chunks hold telemetry samples, not personal or secret data, so no customer-managed key is required.
  name = local.names.chunk_topic

  # Seven days of retention let an operator replay chunks with a seek after a bad deploy.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Messages are Google-managed encrypted; dead-lettered chunks hold the same telemetry as the chunk topic.
  name                       = local.names.dead_letter
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "chunks_to_load" {
  name  = "${var.name_prefix}-chunks-load"
  topic = google_pubsub_topic.chunks.id

  # The load function gets this long to acknowledge (return 2xx) before a redelivery.
  ack_deadline_seconds       = var.load_function.timeout_s
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${local.load_uri}${local.chunk_push_path}"

    oidc_token {
      service_account_email = google_service_account.events.email
      audience              = local.load_uri
    }
  }

  retry_policy {
    minimum_backoff = "${var.retry_min_backoff_s}s"
    maximum_backoff = "${var.retry_max_backoff_s}s"
  }

  # After max_delivery_attempts failed deliveries the message moves to the dead-letter topic,
  # where the Eventarc trigger below hands it to the load function to mark the session failed.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Never delete the subscription for inactivity.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_service_account_iam_member.pubsub_mints_events_tokens,
    google_cloud_run_service_iam_member.events_invoke_load,
  ]
}

# Second delivery path into the same load function: messages on the dead-letter topic. The
# function recognises them by the event source (the dead-letter topic) and marks the session
# failed. Eventarc creates and manages this trigger's own subscription.
resource "google_eventarc_trigger" "load_dead_letter" {
  name     = "${var.name_prefix}-load-dead-letter"
  location = var.region

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }

  transport {
    pubsub {
      topic = google_pubsub_topic.dead_letter.id
    }
  }

  destination {
    cloud_run_service {
      # A gen2 function runs as the Cloud Run service of the same name.
      service = google_cloudfunctions2_function.load.name
      region  = var.region
    }
  }

  service_account = google_service_account.events.email

  depends_on = [google_cloud_run_service_iam_member.events_invoke_load]
}

# A pull subscription nobody consumes keeps a copy of every dead-lettered chunk for seven days,
# so that an operator can inspect it or publish it to the chunk topic again after a fix.
resource "google_pubsub_subscription" "dead_letter_hold" {
  name                       = "${var.name_prefix}-chunks-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}
