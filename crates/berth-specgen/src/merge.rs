//! The image's configuration under the user's request: what `docker create` stores as the
//! container's `Config` (moby `daemon/commit.go` `merge` plus `mergeAndVerifyConfig`).

use berth_model::docker::{ContainerConfig, HealthConfig, ImageConfig};
use berth_model::{Error, Result};

/// Parses an image configuration as found in an OCI image config blob's `config` object
/// (or Docker's `ContainerConfig`/`Config` of an image inspect document).
///
/// Keys are Docker's (`User`, `Env`, `ExposedPorts` as an object, …); unknown keys are
/// ignored, a wrongly typed value is an error naming it.
pub fn image_config_from_json(value: &serde_json::Value) -> Result<ImageConfig> {
    if value.is_null() {
        return Ok(ImageConfig::default());
    }
    serde_json::from_value(value.clone())
        .map_err(|e| Error::invalid(format!("invalid image configuration: {e}")))
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Merges two environment lists by key: `base`'s entries in their order, each replaced by
/// `over`'s entry with the same key, then `over`'s new keys. Bare `KEY` entries (no `=`)
/// in `over` are kept: they mean "unset" and are applied when the process env is built.
pub(crate) fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(base.len() + over.len());
    for b in base {
        let key = env_key(b);
        match over.iter().rev().find(|o| env_key(o) == key) {
            Some(o) => out.push(o.clone()),
            None => out.push(b.clone()),
        }
    }
    for o in over {
        let key = env_key(o);
        if !out.iter().any(|e| env_key(e) == key) {
            out.push(o.clone());
        }
    }
    out
}

fn union(image: &Option<Vec<String>>, request: &Option<Vec<String>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = request.clone().unwrap_or_default();
    for i in image.iter().flatten() {
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    if out.is_empty() && image.is_none() && request.is_none() {
        None
    } else {
        Some(out)
    }
}

fn non_empty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|v| !v.is_empty())
}

fn merge_health(
    image: &Option<HealthConfig>,
    request: &Option<HealthConfig>,
) -> Option<HealthConfig> {
    let Some(img) = image else {
        return request.clone();
    };
    let Some(req) = request else {
        return Some(img.clone());
    };
    let pick = |r: Option<i64>, i: Option<i64>| match r {
        Some(v) if v != 0 => Some(v),
        _ => i,
    };
    Some(HealthConfig {
        test: match &req.test {
            Some(t) if !t.is_empty() => Some(t.clone()),
            _ => img.test.clone(),
        },
        interval: pick(req.interval, img.interval),
        timeout: pick(req.timeout, img.timeout),
        retries: pick(req.retries, img.retries),
        start_period: pick(req.start_period, img.start_period),
        start_interval: pick(req.start_interval, img.start_interval),
    })
}

/// The container configuration Docker stores for `request` on top of `image`.
///
/// Rules (moby's `merge`):
/// - `Entrypoint`: the request's replaces the image's. When the request sets one, the
///   image's `Cmd` is dropped (only the request's `Cmd` follows it); `[""]` resets the
///   entrypoint to none.
/// - `Cmd`: the request's, else the image's (when the request has no entrypoint).
/// - `Env`: merged by key, the image's order first, the request winning.
/// - `Labels`: merged, the request winning. `ExposedPorts`, `Volumes`: union.
/// - `User`, `WorkingDir`, `StopSignal`, `Shell`: the request's when non-empty, else the image's.
/// - `Healthcheck`: the request's fields over the image's (zero durations and an empty
///   test inherit); a `["NONE"]` test stays, and disables the check.
/// - `OnBuild` is not inherited (it applies to builds only); `ArgsEscaped` (Windows) follows `Cmd`.
///
/// "No command specified" is checked by [`crate::validate_create`], not here.
pub fn merge_image_config(image: &ImageConfig, request: &ContainerConfig) -> ContainerConfig {
    let mut out = request.clone();
    if !non_empty(&out.user) {
        out.user = image.user.clone();
    }
    out.exposed_ports = union(&image.exposed_ports, &request.exposed_ports);
    let req_env = request.env.clone().unwrap_or_default();
    let img_env = image.env.clone().unwrap_or_default();
    if !req_env.is_empty() || !img_env.is_empty() {
        out.env = Some(merge_env(&img_env, &req_env));
    }
    if image.labels.is_some() || request.labels.is_some() {
        let mut labels = image.labels.clone().unwrap_or_default();
        for (k, v) in request.labels.iter().flatten() {
            labels.insert(k.clone(), v.clone());
        }
        out.labels = Some(labels);
    }
    let req_has_entrypoint = request.entrypoint.as_ref().is_some_and(|e| !e.is_empty());
    if !req_has_entrypoint {
        if request.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            out.cmd = image.cmd.clone();
            out.args_escaped = image.args_escaped;
        }
        if request.entrypoint.is_none() {
            out.entrypoint = image.entrypoint.clone();
        }
    }
    if out
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        out.entrypoint = None;
    }
    out.healthcheck = merge_health(&image.healthcheck, &request.healthcheck);
    if !non_empty(&out.working_dir) {
        out.working_dir = image.working_dir.clone();
    }
    out.volumes = union(&image.volumes, &request.volumes);
    if !non_empty(&out.stop_signal) {
        out.stop_signal = image.stop_signal.clone();
    }
    if out.shell.as_ref().is_none_or(|s| s.is_empty()) {
        out.shell = image.shell.clone();
    }
    out.on_build = None;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn v(s: &[&str]) -> Option<Vec<String>> {
        Some(s.iter().map(|x| x.to_string()).collect())
    }

    fn image() -> ImageConfig {
        ImageConfig {
            user: Some("app".into()),
            env: v(&["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "A=1"]),
            cmd: v(&["nginx", "-g", "daemon off;"]),
            entrypoint: v(&["/docker-entrypoint.sh"]),
            working_dir: Some("/srv".into()),
            exposed_ports: v(&["80/tcp"]),
            volumes: v(&["/data"]),
            stop_signal: Some("SIGQUIT".into()),
            labels: Some(HashMap::from([
                ("a".to_string(), "img".to_string()),
                ("b".to_string(), "img".to_string()),
            ])),
            on_build: v(&["RUN echo"]),
            healthcheck: Some(HealthConfig {
                test: v(&["CMD", "true"]),
                interval: Some(30_000_000_000),
                retries: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn empty_request_inherits_everything_but_onbuild() {
        let c = merge_image_config(&image(), &ContainerConfig::default());
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.cmd, v(&["nginx", "-g", "daemon off;"]));
        assert_eq!(c.entrypoint, v(&["/docker-entrypoint.sh"]));
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.env, v(&["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "A=1"]));
        assert_eq!(c.on_build, None);
        assert_eq!(c.volumes, v(&["/data"]));
    }

    #[test]
    fn request_entrypoint_drops_image_cmd() {
        let req = ContainerConfig {
            entrypoint: v(&["sh"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.entrypoint, v(&["sh"]));
        assert_eq!(c.cmd, None);
        let req = ContainerConfig {
            entrypoint: v(&["sh"]),
            cmd: v(&["-c", "id"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.cmd, v(&["-c", "id"]));
    }

    #[test]
    fn request_cmd_keeps_image_entrypoint() {
        let req = ContainerConfig {
            cmd: v(&["ls"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.entrypoint, v(&["/docker-entrypoint.sh"]));
        assert_eq!(c.cmd, v(&["ls"]));
    }

    #[test]
    fn empty_string_entrypoint_resets() {
        let req = ContainerConfig {
            entrypoint: v(&[""]),
            cmd: v(&["id"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.entrypoint, None);
        assert_eq!(c.cmd, v(&["id"]));
    }

    #[test]
    fn env_merged_by_key_image_first() {
        let req = ContainerConfig {
            env: v(&["A=2", "NEW=x", "LANG"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.env, v(&["PATH=/usr/bin:/bin", "LANG", "A=2", "NEW=x"]));
    }

    #[test]
    fn labels_ports_volumes_union() {
        let req = ContainerConfig {
            labels: Some(HashMap::from([
                ("b".to_string(), "req".to_string()),
                ("c".to_string(), "req".to_string()),
            ])),
            exposed_ports: v(&["443/tcp"]),
            volumes: v(&["/data", "/logs"]),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        let labels = c.labels.unwrap_or_default();
        assert_eq!(labels.get("a").map(String::as_str), Some("img"));
        assert_eq!(labels.get("b").map(String::as_str), Some("req"));
        assert_eq!(labels.get("c").map(String::as_str), Some("req"));
        assert_eq!(c.exposed_ports, v(&["443/tcp", "80/tcp"]));
        assert_eq!(c.volumes, v(&["/data", "/logs"]));
    }

    #[test]
    fn healthcheck_fields_override_and_none_disables() {
        let req = ContainerConfig {
            healthcheck: Some(HealthConfig {
                interval: Some(5_000_000_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        let h = merge_image_config(&image(), &req)
            .healthcheck
            .unwrap_or_default();
        assert_eq!(h.test, v(&["CMD", "true"]));
        assert_eq!(h.interval, Some(5_000_000_000));
        assert_eq!(h.retries, Some(3));
        let req = ContainerConfig {
            healthcheck: Some(HealthConfig {
                test: v(&["NONE"]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let h = merge_image_config(&image(), &req)
            .healthcheck
            .unwrap_or_default();
        assert_eq!(h.test, v(&["NONE"]));
    }

    #[test]
    fn user_and_workdir_override() {
        let req = ContainerConfig {
            user: Some("0:0".into()),
            working_dir: Some("/tmp".into()),
            stop_signal: Some("SIGKILL".into()),
            ..Default::default()
        };
        let c = merge_image_config(&image(), &req);
        assert_eq!(c.user.as_deref(), Some("0:0"));
        assert_eq!(c.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGKILL"));
    }

    #[test]
    fn image_config_from_oci_json() {
        let j = serde_json::json!({"User":"1000","Env":["A=1"],"ExposedPorts":{"80/tcp":{}},
            "Cmd":["sh"],"Volumes":{"/v":{}},"Unknown":1});
        let c = image_config_from_json(&j).expect("parses");
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.exposed_ports, v(&["80/tcp"]));
        assert_eq!(c.volumes, v(&["/v"]));
        let bad = serde_json::json!({"Env": 3});
        let e = image_config_from_json(&bad).expect_err("wrong type");
        assert!(e.message.contains("invalid image configuration"), "{e}");
    }
}
