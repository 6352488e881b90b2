# Buckets: raw uploads (incoming/, failed/) and the function source zips.

resource "google_storage_bucket" "raw" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (data access logs); legacy usage-log buckets add a second copy with no extra facts.
  name                        = local.names.raw_bucket
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Versioning keeps an overwritten upload recoverable. The session id is the hash of the bytes,
  # so the old generation is still the source of an existing session.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age            = var.raw_retention_days
      matches_prefix = ["incoming/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.failed_retention_days
      matches_prefix = ["failed/"]
      with_state     = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Only Terraform and the Cloud Functions build read this bucket; Cloud Audit Logs record both.
  name                        = local.names.source_bucket
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  # Terraform deletes the zip of a replaced version itself, so only noncurrent versions expire here.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# One object per function zip. The object name contains the zip's SHA-256 prefix, so a code
# change is a new object name, which makes Terraform redeploy exactly the functions that changed.
resource "google_storage_bucket_object" "function_source" {
  for_each = local.packages

  bucket       = google_storage_bucket.source.name
  name         = "functions/${each.value.file}"
  source       = "${local.package_dir}/${each.value.file}"
  content_type = "application/zip"

  # Upload the new zip before deleting the old one, so the old zip is still there if the
  # function update that follows fails.
  lifecycle {
    create_before_destroy = true
  }
}
