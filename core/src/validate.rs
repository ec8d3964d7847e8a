//! Pipeline config validation (docs/pipelines.md#writing-a-pipeline-config). One validator, two callers: the server's registration
//! route and the SDK's `Pipeline::finish()`, so both report the same message.

use crate::api::{Config, PipelineConfigInput, Retries, Task, Variable};
use crate::dag::Dag;
use crate::enums::{ConfigState, OverlapPolicy, RequiredParentStatus, VariableSource};
use crate::id::{self, IdKind};
use std::collections::BTreeMap;

/// A 400-class problem with a message that starts with the offending field (docs/pipelines.md#validation-errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl From<id::IdError> for ValidationError {
    fn from(e: id::IdError) -> Self {
        ValidationError(e.to_string())
    }
}

/// Longest name (docs/pipelines.md#identifiers "other field limits").
pub const MAX_NAME: usize = 128;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Most retries a task may ask for.
pub const MAX_RETRIES: u64 = 10;
/// Longest pipeline or task timeout and retry backoff, in seconds: 365 days.
pub const MAX_TIMEOUT_SECS: u64 = 31_536_000;

/// `None` when `secs` is within [`MAX_TIMEOUT_SECS`], else the problem.
pub fn timeout_problem(secs: u64) -> Option<String> {
    (secs > MAX_TIMEOUT_SECS)
        .then(|| format!("must be at most {MAX_TIMEOUT_SECS} seconds (365 days); 0 means no limit"))
}

/// How deeply a free-form JSON value (a run's payload, a task's result) may nest. Stored
/// records wrap such a value in a few levels of their own, and the store's decoder stops at 128
/// levels, so the API refuses anything deeper than this (docs/security.md, "Limits").
pub const MAX_JSON_DEPTH: usize = 64;

/// How deeply any JSON document the store writes may nest: serde_json's decoder refuses more than
/// 128 levels, so a record deeper than this could be written but never read back.
pub const MAX_STORED_JSON_DEPTH: usize = 120;

/// The nesting depth of a JSON value: a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2.
pub fn json_depth(value: &serde_json::Value) -> usize {
    // Iterative, so a deep value cannot exhaust the stack here either.
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            serde_json::Value::Object(map) => {
                deepest = deepest.max(depth + 1);
                stack.extend(map.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The nesting depth of serialised JSON, from its bytes alone (brackets outside strings).
pub fn json_text_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Checks a free-form JSON value against [`MAX_JSON_DEPTH`]; the error names `field`.
pub fn check_json_value(field: &str, value: &serde_json::Value) -> Result<(), ValidationError> {
    if json_depth(value) > MAX_JSON_DEPTH {
        return Err(ValidationError(format!(
            "{field}: nests deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    Ok(())
}

/// Longest variable or extension setting value, in bytes. Linux refuses an environment string
/// over 128 KiB (and the whole environment over about 2 MiB) when it starts a container's
/// program, so a longer value could be stored but no task could ever run with it.
pub const MAX_VARIABLE_VALUE_BYTES: usize = 65536;
/// Most bytes (keys and values) one set of variables or settings may hold.
pub const MAX_VARIABLES_BYTES: usize = 524288;

/// Checks a set of variables (or extension settings) against the sizes a container's
/// environment can hold; errors name `<field>.<key>`.
pub fn check_variable_sizes<'a>(
    field: &str,
    variables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ValidationError> {
    let mut total = 0usize;
    for (key, value) in variables {
        if value.len() > MAX_VARIABLE_VALUE_BYTES {
            return Err(ValidationError(format!(
                "{field}.{key}: longer than {MAX_VARIABLE_VALUE_BYTES} bytes (a container's \
                 environment cannot hold it); pass large data as an object instead"
            )));
        }
        total += key.len() + value.len() + 2;
        if total > MAX_VARIABLES_BYTES {
            return Err(ValidationError(format!(
                "{field}: more than {MAX_VARIABLES_BYTES} bytes in all (a container's \
                 environment cannot hold them)"
            )));
        }
    }
    Ok(())
}

/// Why `image` is not a container image reference, if it is not: 1-512 characters of
/// `[A-Za-z0-9._:/@-]`, starting with a letter or digit (so never an option such as
/// `--privileged`).
pub fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() || image.len() > 512 || image.chars().any(char::is_whitespace) {
        return Some("must be 1-512 characters without whitespace");
    }
    if !image.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or digit");
    }
    if !image
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@' | '-'))
    {
        return Some("may contain only letters, digits and . _ : / @ -");
    }
    None
}

/// Refuses control characters (escape sequences, line breaks) in text a terminal will show.
pub fn check_no_control(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.chars().any(char::is_control) {
        return Err(ValidationError(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(())
}

/// Checks a name: 1–128 characters.
pub fn check_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME {
        return Err(ValidationError(format!(
            "{field}: must be 1-{MAX_NAME} characters"
        )));
    }
    check_no_control(field, name)
}

/// Checks a description: at most 4096 characters.
pub fn check_description(field: &str, description: &str) -> Result<(), ValidationError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ValidationError(format!(
            "{field}: must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    // Line breaks and tabs are text; escape sequences and other controls are not.
    if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError(format!(
            "{field}: must not contain control characters other than newlines (\\n) and tabs; write Windows line breaks (\\r\\n) as \\n"
        )));
    }
    Ok(())
}

/// A config that passed every rule, with its DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConfig {
    pub id: String,
    pub name: String,
    pub description: String,
    pub parallelism: u64,
    pub timeout: u64,
    pub tasks: BTreeMap<String, Task>,
    pub overlap: OverlapPolicy,
    pub notifications: Vec<crate::api::Notification>,
    pub dag: Dag,
}

impl ValidConfig {
    /// The stored form of this config as version `version` of `namespace_id`.
    pub fn into_config(self, namespace_id: &str, version: u64, registered: u64) -> Config {
        Config {
            namespace_id: namespace_id.to_string(),
            pipeline_id: self.id,
            version,
            name: self.name,
            description: self.description,
            parallelism: self.parallelism,
            timeout: self.timeout,
            tasks: self.tasks,
            overlap: self.overlap,
            notifications: self.notifications,
            state: ConfigState::Unreleased,
            registered,
            deprecated: 0,
        }
    }
}

/// Validates a registration for pipeline `path_pipeline_id` (docs/pipelines.md#writing-a-pipeline-config). Every problem is
/// reported at once, in rule order, joined by `; ` (checks that need an earlier one to pass,
/// such as cycle detection after the dependency names, are skipped when it did not).
pub fn validate_config(
    path_pipeline_id: &str,
    input: &PipelineConfigInput,
) -> Result<ValidConfig, ValidationError> {
    let mut problems: Vec<String> = Vec::new();
    let mut note = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            problems.push(e.0);
        }
    };
    // 1. id
    let id_valid = id::check("config.id", IdKind::Entity, &input.id);
    let id_ok = id_valid.is_ok();
    note(id_valid.map_err(ValidationError::from));
    if id_ok && input.id != path_pipeline_id {
        note(Err(ValidationError(format!(
            "config.id: must equal the pipeline id in the path ('{path_pipeline_id}')"
        ))));
    }
    // 2. name (parallelism and timeout are unsigned integers by type; the JSON decoder rejects
    // negatives and non-integers naming the field)
    note(check_name("config.name", &input.name));
    note(check_description("config.description", &input.description));
    if let Some(problem) = timeout_problem(input.timeout) {
        note(Err(ValidationError(format!("config.timeout: {problem}"))));
    }
    let overlap = match input.overlap.as_deref() {
        None | Some("") => OverlapPolicy::Allow,
        Some(text) => OverlapPolicy::parse(text).unwrap_or_else(|| {
            note(Err(ValidationError(format!(
                "config.overlap: '{text}' is not one of {}",
                OverlapPolicy::expected()
            ))));
            OverlapPolicy::Allow
        }),
    };
    let (notifications, notification_problems) = check_notifications(&input.notifications);
    for problem in notification_problems {
        note(Err(ValidationError(problem)));
    }
    // 3. tasks
    if input.tasks.is_empty() {
        note(Err(ValidationError(
            "config.tasks: must contain at least one task".into(),
        )));
    }
    // 4. task ids
    let mut graph_checkable = true;
    for t in &input.tasks {
        if !IdKind::Task.accepts(&t.id) {
            graph_checkable = false;
            note(Err(ValidationError(format!(
                "task '{}': invalid id ({})",
                t.id,
                IdKind::Task.rule()
            ))));
        }
    }
    // 5. duplicates
    let mut seen = std::collections::BTreeSet::new();
    for t in &input.tasks {
        if !seen.insert(t.id.as_str()) {
            graph_checkable = false;
            note(Err(ValidationError(format!(
                "task '{}': duplicate task id",
                t.id
            ))));
        }
    }
    // 6. images
    for t in &input.tasks {
        if t.image.trim().is_empty() {
            note(Err(ValidationError(format!(
                "task '{}': image must not be empty",
                t.id
            ))));
        } else if let Some(problem) = image_problem(&t.image) {
            note(Err(ValidationError(format!(
                "task '{}': image {problem}",
                t.id
            ))));
        }
    }
    // 7. depends_on conditions, self and unknown references
    let mut graph = Vec::with_capacity(input.tasks.len());
    for t in &input.tasks {
        let mut deps = BTreeMap::new();
        for (parent, cond) in t.depends_on.iter() {
            match RequiredParentStatus::parse(cond).filter(|s| *s != RequiredParentStatus::Unknown)
            {
                Some(status) => {
                    deps.insert(parent.to_string(), status);
                }
                None => {
                    graph_checkable = false;
                    note(Err(ValidationError(format!(
                        "task '{}': depends_on '{parent}' has invalid condition '{cond}' (expected any, success or failure)",
                        t.id
                    ))));
                }
            }
        }
        graph.push((t.id.clone(), deps));
    }
    // 7 and 8: self, unknown, cycle (Dag::new checks in that order)
    let dag = if graph_checkable && !input.tasks.is_empty() {
        match Dag::new(graph.clone()) {
            Ok(dag) => Some(dag),
            Err(e) => {
                note(Err(ValidationError(e.to_string())));
                None
            }
        }
    } else {
        None
    };
    // 9. per-task fields
    let mut tasks = BTreeMap::new();
    for (t, (_, deps)) in input.tasks.iter().zip(graph) {
        let prefix = format!("task '{}'", t.id);
        note(check_description(
            &format!("{prefix}: description"),
            &t.description,
        ));
        note(check_variable_sizes(
            &format!("{prefix}: variables"),
            t.variables.iter(),
        ));
        if let Some(problem) = timeout_problem(t.timeout) {
            note(Err(ValidationError(format!(
                "{prefix}: timeout: {problem}"
            ))));
        }
        let mut variables = Vec::with_capacity(t.variables.0.len());
        for (key, value) in t.variables.iter() {
            if let Some(problem) = id::variable_key_problem(key) {
                note(Err(ValidationError(format!(
                    "{prefix}: variables.{key}: {problem}"
                ))));
            }
            if let Some(Reference {
                kind: RefKind::TaskResult,
                key: ref_task,
            }) = parse_reference(value)
                && dag
                    .as_ref()
                    .is_some_and(|dag| !dag.is_ancestor(&ref_task, &t.id))
            {
                note(Err(ValidationError(format!(
                    "{prefix}: variables.{key}: task_result{{{{{ref_task}}}}} must name an ancestor of the task"
                ))));
            }
            variables.push(Variable {
                key: key.to_string(),
                value: value.to_string(),
                source: VariableSource::PipelineConfig,
            });
        }
        if let Some(auth) = &t.registry_auth
            && (auth.user.is_empty() || auth.pass.is_empty())
        {
            note(Err(ValidationError(format!(
                "{prefix}: registry_auth: user and pass must both be non-empty"
            ))));
        }
        let retries = match t.retries {
            None => Retries::default(),
            Some(r) => {
                if r.count > MAX_RETRIES {
                    note(Err(ValidationError(format!(
                        "{prefix}: retries.count: must be between 0 and {MAX_RETRIES}"
                    ))));
                }
                let backoff = r.backoff.unwrap_or(Retries::default().backoff);
                if backoff > MAX_TIMEOUT_SECS {
                    note(Err(ValidationError(format!(
                        "{prefix}: retries.backoff: must be at most {MAX_TIMEOUT_SECS} seconds (365 days)"
                    ))));
                }
                Retries {
                    count: r.count,
                    backoff,
                }
            }
        };
        let mut resources = crate::resources::TaskResources::default();
        if let Some(r) = &t.resources {
            if let Some(cpus) = &r.cpus {
                match crate::resources::cpus_from_json(cpus) {
                    Ok(c) => resources.cpus = Some(c),
                    Err(problem) => note(Err(ValidationError(format!(
                        "{prefix}: resources.cpus: {problem}"
                    )))),
                }
            }
            if let Some(memory) = &r.memory {
                match crate::resources::memory_from_json(memory) {
                    Ok(m) => resources.memory = Some(m),
                    Err(problem) => note(Err(ValidationError(format!(
                        "{prefix}: resources.memory: {problem}"
                    )))),
                }
            }
        }
        tasks.insert(
            t.id.clone(),
            Task {
                id: t.id.clone(),
                description: t.description.clone(),
                image: t.image.clone(),
                registry_auth: t.registry_auth.clone(),
                depends_on: deps,
                variables,
                entrypoint: t.entrypoint.clone(),
                command: t.command.clone(),
                inject_api_token: t.inject_api_token,
                always_pull_newest_image: t.always_pull_newest_image,
                timeout: t.timeout,
                retries,
                resources,
            },
        );
    }
    let (Some(dag), true) = (dag, problems.is_empty()) else {
        return Err(ValidationError(problems.join("; ")));
    };
    Ok(ValidConfig {
        id: input.id.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        parallelism: input.parallelism,
        timeout: input.timeout,
        tasks,
        overlap,
        notifications,
        dag,
    })
}

/// Most notifications a pipeline may have, and the longest target.
pub const MAX_NOTIFICATIONS: usize = 10;
const MAX_TARGET_CHARS: usize = 2048;

/// `config.notifications` (docs/notifications.md): each problem names its field.
fn check_notifications(
    input: &[crate::api::NotificationInput],
) -> (Vec<crate::api::Notification>, Vec<String>) {
    use crate::enums::{NotificationFormat, NotifyOn};
    let mut problems = Vec::new();
    let mut out = Vec::new();
    if input.len() > MAX_NOTIFICATIONS {
        problems.push(format!(
            "config.notifications: at most {MAX_NOTIFICATIONS} (got {})",
            input.len()
        ));
    }
    for (i, n) in input.iter().enumerate() {
        let field = format!("config.notifications[{i}]");
        let mut on = Vec::new();
        if n.on.is_empty() {
            problems.push(format!(
                "{field}.on: name at least one of {}",
                NotifyOn::expected()
            ));
        }
        for value in &n.on {
            match NotifyOn::parse(value) {
                Some(v) if !on.contains(&v) => on.push(v),
                Some(_) => {}
                None => problems.push(format!(
                    "{field}.on: '{value}' is not one of {}",
                    NotifyOn::expected()
                )),
            }
        }
        let format = match n.format.as_deref() {
            None | Some("") => NotificationFormat::Json,
            Some(text) => NotificationFormat::parse(text).unwrap_or_else(|| {
                problems.push(format!(
                    "{field}.format: '{text}' is not one of {}",
                    NotificationFormat::expected()
                ));
                NotificationFormat::Json
            }),
        };
        let target = n.target.trim();
        match parse_reference(target) {
            Some(Reference {
                kind: RefKind::PipelineSecret | RefKind::GlobalSecret,
                ..
            }) => {}
            Some(r) => problems.push(format!(
                "{field}.target: a {} reference cannot hold a webhook URL; use \
                 pipeline_secret{{{{…}}}} or global_secret{{{{…}}}}",
                r.kind.name()
            )),
            None if target.is_empty() => problems.push(format!(
                "{field}.target: missing; a webhook URL (https://…) or a secret reference"
            )),
            None if target.chars().count() > MAX_TARGET_CHARS => problems.push(format!(
                "{field}.target: longer than {MAX_TARGET_CHARS} characters"
            )),
            None => {
                if let Some(problem) = url_problem(target) {
                    problems.push(format!("{field}.target: {problem}"));
                }
            }
        }
        let after = n.long_running_after.unwrap_or(0);
        if on.contains(&NotifyOn::LongRunning) && after == 0 {
            problems.push(format!(
                "{field}.long_running_after: required with long_running: the seconds after \
                 which a run is long"
            ));
        }
        if let Some(problem) = timeout_problem(after) {
            problems.push(format!("{field}.long_running_after: {problem}"));
        }
        out.push(crate::api::Notification {
            on,
            target: target.to_string(),
            format,
            long_running_after: after,
        });
    }
    (out, problems)
}

/// Why `text` is not an http(s) URL with a host; `None` when it is one.
fn url_problem(text: &str) -> Option<String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        None => Some(format!("'{text}' is not an http:// or https:// URL")),
        Some(rest) if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() => {
            Some(format!("'{text}' has no host"))
        }
        Some(rest) if rest.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("must not contain spaces or control characters".to_string())
        }
        Some(_) => None,
    }
}

/// Kinds of substitution reference (docs/runs.md#variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    PipelineSecret,
    GlobalSecret,
    PipelineObject,
    RunObject,
    TaskResult,
}

impl RefKind {
    pub fn name(self) -> &'static str {
        match self {
            RefKind::PipelineSecret => "pipeline_secret",
            RefKind::GlobalSecret => "global_secret",
            RefKind::PipelineObject => "pipeline_object",
            RefKind::RunObject => "run_object",
            RefKind::TaskResult => "task_result",
        }
    }
}

/// A parsed `<kind>{{<key>}}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: RefKind,
    pub key: String,
}

/// Parses a value as a reference: after trimming, the whole value is `<kind>{{<key>}}` with a
/// case-insensitive kind and a non-empty trimmed key. Anything else is a literal (`None`).
pub fn parse_reference(value: &str) -> Option<Reference> {
    let v = value.trim();
    let open = v.find("{{")?;
    let inner = v[open + 2..].strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    let kind = match v[..open].to_ascii_lowercase().as_str() {
        "pipeline_secret" => RefKind::PipelineSecret,
        "global_secret" => RefKind::GlobalSecret,
        "pipeline_object" => RefKind::PipelineObject,
        "run_object" => RefKind::RunObject,
        "task_result" => RefKind::TaskResult,
        _ => return None,
    };
    let key = inner.trim();
    (!key.is_empty()).then(|| Reference {
        kind,
        key: key.to_string(),
    })
}

/// Whether a value is a substitution reference.
pub fn is_reference(value: &str) -> bool {
    parse_reference(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RetriesInput, TaskInput};

    #[test]
    fn json_depth_counts_nesting_in_values_and_text() {
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        for n in [0, 1, 2, 64, 65, 126] {
            let text = if n == 0 { "1".to_string() } else { nested(n) };
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json_depth(&value), n);
            assert_eq!(json_text_depth(text.as_bytes()), n);
        }
        // Brackets inside strings, escaped quotes included, do not count.
        let text = r#"{"a":"[[[\"{{","b":[{"c":"]]"}]}"#;
        assert_eq!(json_text_depth(text.as_bytes()), 3);
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(json_depth(&value), 3);
        assert!(check_json_value("payload", &serde_json::from_str(&nested(64)).unwrap()).is_ok());
        let e = check_json_value("payload", &serde_json::from_str(&nested(65)).unwrap());
        assert_eq!(e.unwrap_err().0, "payload: nests deeper than 64 levels");
    }

    fn base() -> PipelineConfigInput {
        PipelineConfigInput {
            id: "simple".into(),
            name: "Simple".into(),
            tasks: vec![
                TaskInput {
                    id: "a".into(),
                    image: "busybox".into(),
                    ..Default::default()
                },
                TaskInput {
                    id: "b".into(),
                    image: "busybox".into(),
                    depends_on: [("a", "Success")].into_iter().collect(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn err(f: impl FnOnce(&mut PipelineConfigInput)) -> String {
        let mut c = base();
        f(&mut c);
        validate_config("simple", &c).unwrap_err().0
    }

    #[test]
    fn valid_config_normalises() {
        let v = validate_config("simple", &base()).unwrap();
        assert_eq!(v.tasks["b"].depends_on["a"], RequiredParentStatus::Success);
        assert_eq!(
            v.tasks["a"].retries,
            Retries {
                count: 0,
                backoff: 10
            }
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = err(|c| {
            c.name.clear();
            c.tasks[0].image = String::new();
            c.tasks[1].timeout = MAX_TIMEOUT_SECS + 1;
        });
        assert_eq!(
            e,
            "config.name: must be 1-128 characters; task 'a': image must not be empty; \
             task 'b': timeout: must be at most 31536000 seconds (365 days); 0 means no limit"
        );
    }

    #[test]
    fn every_rule_names_its_field() {
        assert_eq!(
            err(|c| c.id = "x".into()),
            "config.id: must be 3-32 characters of [a-zA-Z0-9_-]"
        );
        assert_eq!(
            err(|c| c.id = "other".into()),
            "config.id: must equal the pipeline id in the path ('simple')"
        );
        assert_eq!(
            err(|c| c.name.clear()),
            "config.name: must be 1-128 characters"
        );
        assert_eq!(
            err(|c| c.tasks.clear()),
            "config.tasks: must contain at least one task"
        );
        assert!(err(|c| c.tasks[0].id = "bad id".into()).starts_with("task 'bad id': invalid id"));
        assert_eq!(
            err(|c| c.tasks[1].id = "a".into()),
            "task 'a': duplicate task id"
        );
        assert_eq!(
            err(|c| c.tasks[0].image.clear()),
            "task 'a': image must not be empty"
        );
        assert_eq!(
            err(|c| c.tasks[1].depends_on = [("tests", "success")].into_iter().collect()),
            "task 'b': depends_on references unknown task 'tests'"
        );
        assert_eq!(
            err(|c| c.tasks[0].depends_on = [("a", "any")].into_iter().collect()),
            "task 'a': cannot depend on itself"
        );
        assert!(
            err(|c| c.tasks[1].depends_on = [("a", "sometimes")].into_iter().collect())
                .starts_with("task 'b': depends_on 'a' has invalid condition 'sometimes'")
        );
        assert!(
            err(|c| c.tasks[1].depends_on = [("a", "unknown")].into_iter().collect())
                .starts_with("task 'b': depends_on 'a' has invalid condition 'unknown'")
        );
        assert_eq!(
            err(|c| c.tasks[0].depends_on = [("b", "any")].into_iter().collect()),
            "task 'a': dependency cycle a -> b -> a"
        );
        assert_eq!(
            err(|c| c.tasks[0].variables = [("MY KEY", "v")].into_iter().collect()),
            "task 'a': variables.MY KEY: keys must not contain whitespace"
        );
        assert_eq!(
            err(|c| c.tasks[0].retries = Some(RetriesInput {
                count: 11,
                backoff: None
            })),
            "task 'a': retries.count: must be between 0 and 10"
        );
        assert!(
            err(|c| c.tasks[0].variables = [("R", "task_result{{b}}")].into_iter().collect())
                .contains("must name an ancestor")
        );
    }

    #[test]
    fn references() {
        let r = parse_reference("  Pipeline_Secret{{ key }} ").unwrap();
        assert_eq!(
            r,
            Reference {
                kind: RefKind::PipelineSecret,
                key: "key".into()
            }
        );
        assert!(parse_reference("x pipeline_secret{{k}}").is_none());
        assert!(parse_reference("pipeline_secret{{ }}").is_none());
        assert!(parse_reference("nope{{k}}").is_none());
        assert!(parse_reference("plain").is_none());
    }
}
