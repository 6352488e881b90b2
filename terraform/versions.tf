terraform {
  # Write-only arguments (password_wo, secret_data_wo) and ephemeral resources need Terraform 1.11.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.45.0"
    }
    # Only google_project_service_identity, which has no GA version, comes from google-beta.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "7.45.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }

  # Partial configuration: the bucket and prefix are passed to `terraform init` with
  # -backend-config (cloudbuild.yaml does this from its substitutions).
  backend "gcs" {}
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

provider "google-beta" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}
