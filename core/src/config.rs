//! Server configuration schema (docs/configuration.md). Defaults are compiled in from
//! `assets/gofer_web.toml`, which is also what `gofer service init-config` prints, so the sample
//! and the defaults cannot drift apart.

use crate::layered;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use toml::Table;

/// The commented default configuration.
pub const DEFAULT_SERVER_TOML: &str = include_str!("../../assets/gofer_web.toml");
/// The well-known development encryption key (the server warns loudly when it is in use).
pub const DEFAULT_ENCRYPTION_KEY: &str = "changemechangemechangemechangeme";
/// Environment prefix of server settings.
pub const ENV_PREFIX: &str = "GOFER_WEB_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerConfig {
    pub api: ApiConfig,
    pub server: ServerSection,
    pub development: DevelopmentConfig,
    pub extensions: ExtensionsConfig,
    pub external_events: ExternalEventsConfig,
    pub scheduler: SchedulerConfig,
    pub object_store: ObjectStoreConfig,
    pub secret_store: SecretStoreConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiConfig {
    pub log_level: String,
    pub run_parallelism_limit: u64,
    pub global_run_concurrency_limit: u64,
    pub event_log_retention: u64,
    pub event_prune_interval: u64,
    pub task_execution_log_retention: u64,
    pub task_execution_stop_timeout: u64,
    pub run_token_expiry: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSection {
    pub bind_address: String,
    pub extension_address: String,
    pub data_dir: String,
    pub use_tls: bool,
    pub tls_cert_path: String,
    pub tls_key_path: String,
    pub shutdown_timeout: u64,
    pub max_request_body_bytes: u64,
    /// Largest JSON request body (every route but object uploads); larger gets 413.
    pub max_json_body_bytes: u64,
    /// Browser origins (`scheme://host[:port]`) whose cross-site requests are served; requests
    /// from any other site are refused with 403 (docs/security.md).
    pub allowed_origins: Vec<String>,
    /// Seconds a client may take to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    pub header_read_timeout: u64,
    /// Seconds a client may take to send a JSON body, and may pause within any body.
    pub body_read_timeout: u64,
    /// Most connections open at once; further clients wait in the kernel's backlog.
    pub max_connections: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevelopmentConfig {
    pub bypass_auth: bool,
    pub pretty_logging: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionsConfig {
    pub install_std_extensions: bool,
    pub start_timeout: u64,
    pub health_check_interval: u64,
    pub restart_backoff_max: u64,
    pub stop_timeout: u64,
    pub use_tls: bool,
    pub tls_cert_path: String,
    pub tls_key_path: String,
    pub verify_certs: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalEventsConfig {
    pub enable: bool,
    pub bind_address: String,
    pub use_tls: bool,
    pub tls_cert_path: String,
    pub tls_key_path: String,
    pub max_body_bytes: u64,
    /// Seconds a sender may take to send a webhook's headers (and an idle connection lives).
    pub header_read_timeout: u64,
    /// Seconds a sender may take to send a webhook's body.
    pub body_read_timeout: u64,
    /// Most connections open at once on this listener.
    pub max_connections: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    pub engine: String,
    pub docker: DockerConfig,
    pub swarm: SwarmConfig,
    pub resources: ResourcesConfig,
}

/// Task CPU and memory defaults and maxima (docs/pipelines.md#task-resources). `0` and `""`
/// mean none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcesConfig {
    pub default_cpus: f64,
    pub default_memory: String,
    pub max_cpus: f64,
    pub max_memory: String,
}

impl ResourcesConfig {
    /// The settings as a policy; the problem names the setting when one does not parse.
    pub fn policy(&self) -> Result<crate::resources::ResourcePolicy, ConfigError> {
        let cpus = |key: &str, v: f64| -> Result<Option<crate::resources::Cpus>, ConfigError> {
            if v == 0.0 {
                return Ok(None);
            }
            crate::resources::Cpus::from_cores(v)
                .map(Some)
                .map_err(|e| ConfigError(format!("scheduler.resources.{key}: {e}")))
        };
        let memory = |key: &str, v: &str| -> Result<Option<u64>, ConfigError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            crate::resources::memory_from_json(&serde_json::Value::String(v.to_string()))
                .map(Some)
                .map_err(|e| ConfigError(format!("scheduler.resources.{key}: {e}")))
        };
        let policy = crate::resources::ResourcePolicy {
            defaults: crate::resources::TaskResources {
                cpus: cpus("default_cpus", self.default_cpus)?,
                memory: memory("default_memory", &self.default_memory)?,
            },
            maxima: crate::resources::TaskResources {
                cpus: cpus("max_cpus", self.max_cpus)?,
                memory: memory("max_memory", &self.max_memory)?,
            },
        };
        policy.check("(default)", &policy.defaults).map_err(|e| {
            ConfigError(format!(
                "scheduler.resources: the defaults exceed the maxima ({e})"
            ))
        })?;
        Ok(policy)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DockerConfig {
    pub host: String,
    pub prune: bool,
    pub prune_interval: u64,
    pub timeout: u64,
    /// The log driver of task containers; "" = the engine's default (docs/schedulers.md#log-drivers).
    pub log_driver: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmConfig {
    pub host: String,
    pub network: String,
    pub constraints: Vec<String>,
    pub prune: bool,
    pub prune_interval: u64,
    pub timeout: u64,
    /// The log driver of task services; "" = the engine's default (docs/schedulers.md#log-drivers).
    pub log_driver: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectStoreConfig {
    pub pipeline_object_limit: u64,
    pub run_object_expiry: u64,
    pub max_object_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretStoreConfig {
    pub encryption_key: String,
}

/// The environment variable that sets the dotted `key`.
fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The result of layering.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ServerConfig,
}

fn defaults_table() -> Table {
    DEFAULT_SERVER_TOML
        .parse()
        .expect("assets/gofer_web.toml is valid TOML (checked by a test)")
}

impl Default for ServerConfig {
    fn default() -> Self {
        defaults_table()
            .try_into()
            .expect("assets/gofer_web.toml matches ServerConfig (checked by a test)")
    }
}

impl ServerConfig {
    /// Layers defaults, then `file` (TOML text; `file_name` is used in messages), then environment
    /// variables `GOFER_WEB_…`, and validates the result.
    pub fn load<'a>(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Loaded, ConfigError> {
        let known = defaults_table();
        let known_paths = layered::key_paths(&known);
        let mut merged = known.clone();
        let mut overlays = Vec::new();
        if let Some((file_name, text)) = file {
            let table: Table = text
                .parse()
                .map_err(|e| ConfigError(format!("{file_name}: not valid TOML: {e}")))?;
            overlays.push((Some(file_name), table));
        }
        overlays.push((None, layered::env_overlay(ENV_PREFIX, env)));
        for (source, mut overlay) in overlays {
            // Accepted alias (docs/configuration.md).
            if let Some(api) = overlay.get_mut("api").and_then(|v| v.as_table_mut())
                && let Some(v) = api.remove("pipeline_run_concurrency_limit")
            {
                api.insert("run_parallelism_limit".into(), v);
            }
            // A typo must never leave a default in force silently: refuse the boot.
            if let Some(key) = layered::unknown_keys(&known, &overlay).first() {
                let hint =
                    crate::suggest::did_you_mean(key, known_paths.iter().map(String::as_str));
                let place = match source {
                    Some(file_name) => format!("{file_name}: "),
                    None => format!("{}: ", env_name(key)),
                };
                return Err(ConfigError(format!(
                    "{place}unknown setting '{key}'{hint}; `gofer service init-config` lists every setting"
                )));
            }
            layered::check_types(&known, &overlay, "").map_err(ConfigError)?;
            layered::merge(&mut merged, overlay);
        }
        let config: ServerConfig = merged.try_into().map_err(|e: toml::de::Error| {
            ConfigError(format!("invalid configuration: {}", e.message()))
        })?;
        config.validate()?;
        Ok(Loaded { config })
    }

    /// Checks values that the types alone do not (docs/configuration.md#where-settings-come-from).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let addr = |key: &str, v: &str| {
            v.parse::<SocketAddr>()
                .map(|_| ())
                .map_err(|_| ConfigError(format!("{key}: '{v}' is not an ip:port address")))
        };
        addr("server.bind_address", &self.server.bind_address)?;
        addr(
            "external_events.bind_address",
            &self.external_events.bind_address,
        )?;
        for (key, value) in [
            (
                "server.max_json_body_bytes",
                self.server.max_json_body_bytes,
            ),
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.body_read_timeout", self.server.body_read_timeout),
            ("server.max_connections", self.server.max_connections),
            (
                "external_events.header_read_timeout",
                self.external_events.header_read_timeout,
            ),
            (
                "external_events.body_read_timeout",
                self.external_events.body_read_timeout,
            ),
            (
                "external_events.max_connections",
                self.external_events.max_connections,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key}: must be at least 1")));
            }
        }
        for origin in &self.server.allowed_origins {
            let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https")
                    && !host.is_empty()
                    && !host.contains(['/', '?', '#', ' '])
            });
            if !well_formed {
                return Err(ConfigError(format!(
                    "server.allowed_origins: '{origin}' is not an origin such as \
                     https://ops.example.com or http://localhost:3000"
                )));
            }
        }
        let extension_address = &self.server.extension_address;
        if !extension_address.is_empty()
            && !extension_address
                .rsplit_once(':')
                .is_some_and(|(host, port)| {
                    !host.is_empty() && !host.contains(['/', ' ']) && port.parse::<u16>().is_ok()
                })
        {
            return Err(ConfigError(format!(
                "server.extension_address: '{extension_address}' is not host:port (leave it \
                 empty to use the Docker bridge gateway and the API's port)"
            )));
        }
        if !matches!(
            self.api.log_level.as_str(),
            "trace" | "debug" | "info" | "warn" | "error"
        ) {
            return Err(ConfigError(format!(
                "api.log_level: '{}' is not one of trace, debug, info, warn, error",
                self.api.log_level
            )));
        }
        self.scheduler.resources.policy()?;
        if !matches!(self.scheduler.engine.as_str(), "docker" | "swarm") {
            return Err(ConfigError(format!(
                "scheduler.engine: '{}' is not one of docker, swarm",
                self.scheduler.engine
            )));
        }
        let key_len = self.secret_store.encryption_key.len();
        if key_len != 32 {
            return Err(ConfigError(format!(
                "secret_store.encryption_key: must be exactly 32 bytes (it is {key_len})"
            )));
        }
        for (on, section, cert, key) in [
            (
                self.server.use_tls,
                "server",
                &self.server.tls_cert_path,
                &self.server.tls_key_path,
            ),
            (
                self.external_events.use_tls,
                "external_events",
                &self.external_events.tls_cert_path,
                &self.external_events.tls_key_path,
            ),
        ] {
            if on && (cert.is_empty() || key.is_empty()) {
                return Err(ConfigError(format!(
                    "{section}.tls_cert_path and {section}.tls_key_path: required when {section}.use_tls is true"
                )));
            }
        }
        // Extensions may leave both empty: the server then issues each extension a certificate
        // from its own CA (docs/deploy.md#tls-between-the-server-and-its-extensions).
        let ext = &self.extensions;
        if ext.use_tls && ext.tls_cert_path.is_empty() != ext.tls_key_path.is_empty() {
            return Err(ConfigError(
                "extensions.tls_cert_path and extensions.tls_key_path: set both (one certificate \
                 for every extension) or neither (the server issues each extension its own)"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_spec() {
        let c = ServerConfig::default();
        assert_eq!(c.server.bind_address, "0.0.0.0:8080");
        assert_eq!(c.api.run_parallelism_limit, 200);
        assert!(c.development.bypass_auth);
        assert_eq!(c.secret_store.encryption_key, DEFAULT_ENCRYPTION_KEY);
        c.validate().unwrap();
    }

    #[test]
    fn file_env_and_unknown_keys() {
        let file = "[api]\nlog_level = \"debug\"\npipeline_run_concurrency_limit = 3\n";
        let loaded = ServerConfig::load(
            Some(("gofer.toml", file)),
            [("GOFER_WEB_SCHEDULER__DOCKER__PRUNE", "false")],
        )
        .unwrap();
        assert_eq!(loaded.config.api.log_level, "debug");
        assert_eq!(loaded.config.api.run_parallelism_limit, 3);
        assert!(!loaded.config.scheduler.docker.prune);

        let e = ServerConfig::load(
            Some(("gofer.toml", "[development]\nbypas_auth = false\n")),
            [],
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "gofer.toml: unknown setting 'development.bypas_auth' (did you mean \
             development.bypass_auth?); `gofer service init-config` lists every setting"
        );
        let e =
            ServerConfig::load(None, [("GOFER_WEB_DEVELOPMENT__BYPAS_AUTH", "false")]).unwrap_err();
        assert!(
            e.0.starts_with("GOFER_WEB_DEVELOPMENT__BYPAS_AUTH: unknown setting 'development.bypas_auth' (did you mean development.bypass_auth?)"),
            "{e}"
        );
        let e = ServerConfig::load(None, [("GOFER_WEB_NOPE__X", "1")]).unwrap_err();
        assert!(e.0.contains("unknown setting 'nope'"), "{e}");
    }

    /// docs/pipelines.md#task-resources: whole or fractional cores, memory with suffixes, from a
    /// file, the environment or a config written back by `toml`; bad values name the setting.
    #[test]
    fn task_resource_settings_load_and_are_checked() {
        let loaded = ServerConfig::load(
            Some((
                "f",
                "[scheduler.resources]\nmax_cpus = 2\ndefault_cpus = 0.5\nmax_memory = \"4Gi\"\n",
            )),
            [("GOFER_WEB_SCHEDULER__RESOURCES__DEFAULT_MEMORY", "512Mi")],
        )
        .unwrap();
        let policy = loaded.config.scheduler.resources.policy().unwrap();
        assert_eq!(policy.maxima.cpus, Some(crate::resources::Cpus(2000)));
        assert_eq!(policy.defaults.cpus, Some(crate::resources::Cpus(500)));
        assert_eq!(policy.defaults.memory, Some(512 << 20));
        assert_eq!(policy.maxima.memory, Some(4 << 30));
        // What `toml` writes back loads again.
        let text = toml::to_string(&loaded.config).unwrap();
        assert!(ServerConfig::load(Some(("g", &text)), []).is_ok());
        for (file, message) in [
            (
                "[scheduler.resources]\ndefault_memory = \"lots\"",
                "scheduler.resources.default_memory: 'lots' is not an amount of memory",
            ),
            (
                "[scheduler.resources]\nmax_cpus = -1",
                "scheduler.resources.max_cpus",
            ),
            (
                "[scheduler.resources]\ndefault_memory = \"2Gi\"\nmax_memory = \"1Gi\"",
                "scheduler.resources: the defaults exceed the maxima",
            ),
        ] {
            let e = ServerConfig::load(Some(("f", file)), []).unwrap_err();
            assert!(e.0.contains(message), "{file}: {}", e.0);
        }
    }

    #[test]
    fn negative_numbers_name_the_key() {
        let e = ServerConfig::load(Some(("f", "[api]\nrun_token_expiry = -5")), []).unwrap_err();
        assert_eq!(
            e.0,
            "api.run_token_expiry: must be a whole number of 0 or more (got -5)"
        );
        let e =
            ServerConfig::load(None, [("GOFER_WEB_SCHEDULER__DOCKER__TIMEOUT", "-1")]).unwrap_err();
        assert!(e.0.starts_with("scheduler.docker.timeout:"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = ServerConfig::load(
            Some(("f", "[secret_store]\nencryption_key = \"short\"")),
            [],
        )
        .unwrap_err();
        assert!(e.0.starts_with("secret_store.encryption_key"), "{e}");
        let e = ServerConfig::load(None, [("GOFER_WEB_SERVER__BIND_ADDRESS", "nope")]).unwrap_err();
        assert!(e.0.starts_with("server.bind_address"), "{e}");
        let e = ServerConfig::load(Some(("f", "[api]\nrun_parallelism_limit = \"x\"")), [])
            .unwrap_err();
        assert!(e.0.contains("run_parallelism_limit"), "{e}");
    }

    /// TLS paths: the listeners need both; extensions take both or neither (neither: the server
    /// issues their certificates).
    #[test]
    fn tls_paths_are_required_as_pairs() {
        let tls = |section: &str, cert: &str, key: &str| {
            let upper = section.to_uppercase();
            let env = [
                (format!("GOFER_WEB_{upper}__USE_TLS"), "true"),
                (format!("GOFER_WEB_{upper}__TLS_CERT_PATH"), cert),
                (format!("GOFER_WEB_{upper}__TLS_KEY_PATH"), key),
            ];
            ServerConfig::load(None, env.iter().map(|(k, v)| (k.as_str(), *v))).map(drop)
        };
        let e = tls("server", "", "").unwrap_err();
        assert!(
            e.0.starts_with("server.tls_cert_path and server.tls_key_path: required"),
            "{e}"
        );
        assert!(tls("extensions", "", "").is_ok());
        assert!(tls("extensions", "/c.pem", "/k.pem").is_ok());
        let e = tls("extensions", "/c.pem", "").unwrap_err();
        assert!(e.0.contains("set both"), "{e}");
    }
}
