# Input variables. Every variable has a type and a description, and the defaults suit a small
# production project. terraform/README.md lists the ones a deployment usually sets.

variable "project_id" {
  type        = string
  description = "ID of the Google Cloud project that receives every resource."
}

variable "region" {
  type        = string
  description = "Region of the functions, buckets, Cloud SQL instance, Eventarc triggers and scheduler job."
  default     = "europe-west1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name. Lower-case letters, digits and hyphens, at most 14 characters, so that service account IDs stay within 30 characters."
  default     = "simtel"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and contain 2 to 14 lower-case letters, digits or hyphens."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that supports labels, on top of app = simtel."
  default     = {}
}

variable "package_dir" {
  type        = string
  description = "Folder with the function zips and manifest.json written by `simtel package --out DIR`. Null means ../dist/functions relative to this folder."
  default     = null
}

variable "api_public" {
  type        = bool
  description = "Whether allUsers may invoke the API function. When false, callers need roles/run.invoker and an identity token."
  default     = false
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the Cloud SQL instance from deletion and keep non-empty buckets on destroy. Set to false only to tear down a test deployment."
  default     = true
}

# --- Storage -----------------------------------------------------------------------------------

variable "raw_retention_days" {
  type        = number
  description = "Days an upload under incoming/ is kept in the raw bucket before lifecycle deletion."
  default     = 30

  validation {
    condition     = var.raw_retention_days >= 1
    error_message = "raw_retention_days must be at least 1."
  }
}

variable "failed_retention_days" {
  type        = number
  description = "Days an object under failed/ is kept in the raw bucket before lifecycle deletion."
  default     = 90

  validation {
    condition     = var.failed_retention_days >= 1
    error_message = "failed_retention_days must be at least 1."
  }
}

variable "noncurrent_retention_days" {
  type        = number
  description = "Days an overwritten or deleted object version is kept in the versioned buckets."
  default     = 7

  validation {
    condition     = var.noncurrent_retention_days >= 1
    error_message = "noncurrent_retention_days must be at least 1."
  }
}

variable "max_upload_bytes" {
  type        = number
  description = "Largest upload the parse function reads, in bytes (MAX_UPLOAD_BYTES). Larger uploads mark their session failed."
  default     = 268435456
}

variable "chunk_target_bytes" {
  type        = number
  description = "Upper bound of one chunk message's payload, in bytes (CHUNK_TARGET_BYTES)."
  default     = 524288

  validation {
    # Pub/Sub rejects messages over 10 MB, and 8 MiB leaves room for attributes and encoding.
    condition     = var.chunk_target_bytes >= 65536 && var.chunk_target_bytes <= 8388608
    error_message = "chunk_target_bytes must be between 65536 and 8388608 (8 MiB)."
  }
}

variable "log_level" {
  type        = string
  description = "Python log level of the functions (LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

# --- Pub/Sub -----------------------------------------------------------------------------------

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries of one chunk message to the load function before Pub/Sub moves it to the dead-letter topic."
  default     = 5

  validation {
    # Pub/Sub accepts 5 to 100.
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "retry_min_backoff_s" {
  type        = number
  description = "Minimum delay before Pub/Sub redelivers a chunk the load function failed, in seconds."
  default     = 10

  validation {
    condition     = var.retry_min_backoff_s >= 0 && var.retry_min_backoff_s <= 600
    error_message = "retry_min_backoff_s must be between 0 and 600."
  }
}

variable "retry_max_backoff_s" {
  type        = number
  description = "Maximum delay before Pub/Sub redelivers a chunk the load function failed, in seconds."
  default     = 600

  validation {
    condition     = var.retry_max_backoff_s >= 0 && var.retry_max_backoff_s <= 600
    error_message = "retry_max_backoff_s must be between 0 and 600."
  }
}

# --- Functions ---------------------------------------------------------------------------------
#
# One object per function. Attributes:
#   max_instances  maximum number of instances (Cloud Run scales between min and max)
#   min_instances  instances kept warm, each billed while idle
#   concurrency    maximum concurrent requests per instance (above 1 needs at least 1 CPU)
#   cpu            vCPUs per instance, as a string ("1", "2", "0.5")
#   memory         memory per instance ("512Mi", "2Gi")
#   timeout_s      request timeout in seconds
#   db_pool_size   DB_POOL_SIZE: database connections one instance may open

# NOTE: the parse memory default is sized from one measurement. common.formats.parse_path peaked
# at 469 MB resident for a 96 MiB CSV of 21 numeric columns (about 4.9 times the file size, on
# a 2-core x86-64 machine, /usr/bin/time -f %M). At that ratio a 256 MiB upload needs about
# 1.3 GB, and 2Gi leaves room for the downloaded bytes and chunk encoding, which were not measured.
variable "parse_function" {
  type = object({
    max_instances = optional(number, 10)
    min_instances = optional(number, 0)
    concurrency   = optional(number, 1)
    cpu           = optional(string, "1")
    memory        = optional(string, "2Gi")
    timeout_s     = optional(number, 540)
    db_pool_size  = optional(number, 2)
  })
  description = "Scaling of the parse function. It holds a whole upload in memory, so memory must be several times max_upload_bytes."
  default     = {}

  validation {
    # Event-driven functions time out after at most 540 s.
    condition     = var.parse_function.timeout_s >= 1 && var.parse_function.timeout_s <= 540
    error_message = "parse_function.timeout_s must be between 1 and 540."
  }
  validation {
    condition     = var.parse_function.concurrency == 1 || tonumber(var.parse_function.cpu) >= 1
    error_message = "parse_function.concurrency above 1 needs cpu of at least 1."
  }
  validation {
    condition     = var.parse_function.max_instances >= 1 && var.parse_function.db_pool_size >= 1
    error_message = "parse_function.max_instances and db_pool_size must be at least 1."
  }
}

variable "load_function" {
  type = object({
    max_instances = optional(number, 10)
    min_instances = optional(number, 0)
    concurrency   = optional(number, 4)
    cpu           = optional(string, "1")
    memory        = optional(string, "1Gi")
    timeout_s     = optional(number, 300)
    db_pool_size  = optional(number, 4)
  })
  description = "Scaling of the load function. timeout_s is also the push subscription's ack deadline."
  default     = {}

  validation {
    # The ack deadline of the chunk subscription equals this timeout, and Pub/Sub allows 10 to 600 s.
    condition     = var.load_function.timeout_s >= 10 && var.load_function.timeout_s <= 600
    error_message = "load_function.timeout_s must be between 10 and 600."
  }
  validation {
    condition     = var.load_function.concurrency == 1 || tonumber(var.load_function.cpu) >= 1
    error_message = "load_function.concurrency above 1 needs cpu of at least 1."
  }
  validation {
    condition     = var.load_function.max_instances >= 1 && var.load_function.db_pool_size >= 1
    error_message = "load_function.max_instances and db_pool_size must be at least 1."
  }
}

variable "api_function" {
  type = object({
    max_instances = optional(number, 5)
    min_instances = optional(number, 0)
    concurrency   = optional(number, 20)
    cpu           = optional(string, "1")
    memory        = optional(string, "1Gi")
    timeout_s     = optional(number, 300)
    db_pool_size  = optional(number, 5)
  })
  description = "Scaling of the API function. timeout_s must cover the features rebuild that Cloud Scheduler requests."
  default     = {}

  validation {
    condition     = var.api_function.timeout_s >= 1 && var.api_function.timeout_s <= 3600
    error_message = "api_function.timeout_s must be between 1 and 3600."
  }
  validation {
    condition     = var.api_function.concurrency == 1 || tonumber(var.api_function.cpu) >= 1
    error_message = "api_function.concurrency above 1 needs cpu of at least 1."
  }
  validation {
    condition     = var.api_function.max_instances >= 1 && var.api_function.db_pool_size >= 1
    error_message = "api_function.max_instances and db_pool_size must be at least 1."
  }
}

# --- Cloud SQL ---------------------------------------------------------------------------------

variable "db_tier" {
  type        = string
  description = "Cloud SQL machine type, for example db-custom-1-3840 (1 vCPU, 3.75 GB)."
  default     = "db-custom-1-3840"
}

variable "db_high_availability" {
  type        = bool
  description = "Run the Cloud SQL instance as REGIONAL (a standby in a second zone) instead of ZONAL."
  default     = false
}

variable "db_disk_size_gb" {
  type        = number
  description = "Initial SSD size of the Cloud SQL instance in GB; the disk grows automatically."
  default     = 20
}

variable "db_name" {
  type        = string
  description = "Name of the PostgreSQL database (DB_NAME)."
  default     = "simtel"
}

variable "db_admin_user" {
  type        = string
  description = "Built-in PostgreSQL user that owns the schema and applies migrations. Its password is generated and stored only in Secret Manager."
  default     = "simtel_admin"
}

variable "db_admin_password_version" {
  type        = number
  description = "Increase by one to generate a new password for db_admin_user and store it as a new secret version."
  default     = 1
}

variable "db_backup_count" {
  type        = number
  description = "Number of daily automated backups Cloud SQL keeps."
  default     = 14
}

variable "db_log_retention_days" {
  type        = number
  description = "Days of write-ahead log kept for point-in-time recovery."
  default     = 7

  validation {
    # Cloud SQL Enterprise edition keeps 1 to 7 days.
    condition     = var.db_log_retention_days >= 1 && var.db_log_retention_days <= 7
    error_message = "db_log_retention_days must be between 1 and 7."
  }
}

variable "db_reserved_connections" {
  type        = number
  description = "Connections of db_max_connections kept free of the functions, for migrations, operators and Cloud SQL's own maintenance."
  default     = 10
}

variable "db_max_connections" {
  type        = number
  description = "PostgreSQL max_connections flag of the Cloud SQL instance."
  default     = 100

  # Each function instance opens up to db_pool_size connections, so at full scale the functions
  # together hold sum(max_instances x db_pool_size) connections. That sum plus the reserved
  # connections must fit under max_connections, or loads fail with "too many clients" exactly
  # when traffic peaks. Checked here at plan time (cross-variable validation needs Terraform 1.9).
  validation {
    condition = (
      var.parse_function.max_instances * var.parse_function.db_pool_size +
      var.load_function.max_instances * var.load_function.db_pool_size +
      var.api_function.max_instances * var.api_function.db_pool_size +
      var.db_reserved_connections <= var.db_max_connections
    )
    error_message = "The functions may open more connections than the database allows: sum(max_instances x db_pool_size) over parse, load and api, plus db_reserved_connections, must be at most db_max_connections. Lower max_instances or db_pool_size, or raise db_max_connections (with a larger db_tier)."
  }
}

# --- Scheduler ---------------------------------------------------------------------------------

variable "rebuild_schedule" {
  type        = string
  description = "Cron schedule of the features rebuild (POST /v1/features:rebuild)."
  default     = "0 3 * * *"
}

variable "rebuild_time_zone" {
  type        = string
  description = "IANA time zone of rebuild_schedule."
  default     = "Etc/UTC"
}
