# Cloud SQL for PostgreSQL 15, reachable only through Cloud SQL connectors.
#
# Network design: the instance has a public IP address but no authorized networks, and
# connector_enforcement = REQUIRED rejects every connection that does not come through the Cloud
# SQL Auth Proxy or a Cloud SQL language connector. Those connectors authorize each connection
# with IAM (cloudsql.instances.connect) and encrypt it with mutual TLS, so no address range is
# trusted. This avoids a VPC, a private services range and a Serverless VPC Access connector, and
# lets an operator or a Cloud Build step reach the database for migrations. The functions connect
# with cloud-sql-python-connector (DB_PRIVATE_IP=0 selects the public address).

resource "google_sql_database_instance" "main" {
  #checkov:skip=CKV_GCP_60:The public address accepts only Cloud SQL connector connections (connector_enforcement = REQUIRED, no authorized networks); see the note at the top of this file.
  #checkov:skip=CKV_GCP_110:DDL is logged through log_statement = ddl; pgAudit needs an extension in the database and per-statement audit logs that a telemetry store does not need.
  #checkov:skip=CKV2_GCP_13:log_duration writes a line for every statement (each API query and chunk COPY); Query Insights records statement latency instead.
  #checkov:skip=CKV_GCP_79:The product targets PostgreSQL 15 on purpose: the schema and the local test server are version 15.
  name                = local.names.sql_instance
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.db_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.db_high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.db_disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    connector_enforcement       = "REQUIRED"
    user_labels                 = local.labels

    ip_configuration {
      ipv4_enabled = true
      # Connectors present client certificates from the instance's CA, so this mode admits them
      # and nothing else.
      ssl_mode = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.db_log_retention_days

      backup_retention_settings {
        retained_backups = var.db_backup_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # IAM database authentication: the functions log in as their service accounts, with no password.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }

    # Sized against the functions' pools by the validation on var.db_max_connections.
    database_flags {
      name  = "max_connections"
      value = tostring(var.db_max_connections)
    }

    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    # Log every temporary file, so that sorts and hashes spilling to disk show up.
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    # Schema changes and grants are logged. Data statements are not, because their text contains
    # telemetry values and their volume is high.
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    # -1 turns off statement-duration logging, which would write statement text (and so
    # telemetry values) to the logs.
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_sql_database" "main" {
  name     = var.db_name
  instance = google_sql_database_instance.main.name
}

# One IAM database user per function service account. These users start with no privileges on
# the schema: the migrations' owner grants them (terraform/README.md, "Database schema").
resource "google_sql_user" "function" {
  for_each = local.db_iam_users

  name     = each.value
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

# The built-in user that owns the schema and applies migrations. Its password is generated by an
# ephemeral resource and passed through write-only arguments, so it is in neither the plan nor the
# state: Secret Manager holds the only copy.
ephemeral "random_password" "db_admin" {
  length  = 32
  special = false
}

resource "google_sql_user" "admin" {
  name                = var.db_admin_user
  instance            = google_sql_database_instance.main.name
  type                = "BUILT_IN"
  password_wo         = ephemeral.random_password.db_admin.result
  password_wo_version = var.db_admin_password_version
  # The admin user owns the tables, and PostgreSQL cannot drop a role that owns objects.
  deletion_policy = "ABANDON"
}

resource "google_secret_manager_secret" "db_admin_password" {
  secret_id = "${var.name_prefix}-db-admin-password"

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "db_admin_password" {
  secret                 = google_secret_manager_secret.db_admin_password.id
  secret_data_wo         = ephemeral.random_password.db_admin.result
  secret_data_wo_version = var.db_admin_password_version
}
