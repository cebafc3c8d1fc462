//! Per-plugin sampling: one provider, a sampler per plugin.
//!
//! The decision that matters for a plugin is taken on its invocation span
//! (`invoke <name>`, which carries `wasmtrace.plugin.name`): the plugin's
//! own spans are its descendants and follow it under the parent-based
//! samplers, OTel's default. [`PluginSampler`] is the provider's sampler; it
//! sends invocation spans of plugins that have their own sampler to it, and
//! everything else to the default (`OTEL_TRACES_SAMPLER`).

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The attribute naming the plugin on invocation spans.
pub(crate) const ATTR_PLUGIN_NAME: &str = "wasmtrace.plugin.name";

/// A sampler that lets each plugin have its own sampler.
///
/// Install it as the tracer provider's sampler ([`crate::telemetry::Telemetry`]
/// does), then [`set`](Self::set) a sampler per plugin name at any time.
///
/// ```
/// use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
/// use wasmtrace::PluginSampler;
///
/// let samplers = PluginSampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
/// let provider = SdkTracerProvider::builder().with_sampler(samplers.clone()).build();
/// // The guide's "sample 10%", for one noisy plugin only.
/// samplers.set(
///     "batch",
///     Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))),
/// );
/// # drop(provider);
/// ```
#[derive(Clone, Debug)]
pub struct PluginSampler {
    default: Arc<dyn ShouldSample>,
    plugins: Arc<RwLock<HashMap<String, Box<dyn ShouldSample>>>>,
}

impl PluginSampler {
    /// A sampler deciding with `default` for everything until plugins get
    /// their own.
    pub fn new(default: impl ShouldSample + 'static) -> Self {
        Self {
            default: Arc::new(default),
            plugins: Arc::default(),
        }
    }

    /// The sampler `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` name
    /// (default `parentbased_always_on`; invalid values fall back to it with
    /// a warning, as the spec says), with no per-plugin samplers yet.
    pub fn from_env() -> Self {
        let default = opentelemetry_sdk::trace::Config::default().sampler;
        Self {
            default: Arc::from(default),
            plugins: Arc::default(),
        }
    }

    /// Samples the invocations of the plugin named `plugin` (its identity
    /// name) with `sampler` from now on.
    pub fn set(&self, plugin: &str, sampler: impl ShouldSample + 'static) {
        self.plugins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.to_owned(), Box::new(sampler));
    }

    /// Returns the plugin to the default sampler.
    pub fn remove(&self, plugin: &str) {
        self.plugins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(plugin);
    }
}

impl ShouldSample for PluginSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        // Only invocation spans carry the plugin name: guest spans take the
        // fast path without touching the lock.
        let plugin = attributes
            .iter()
            .find(|kv| kv.key.as_str() == ATTR_PLUGIN_NAME)
            .and_then(|kv| match &kv.value {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            });
        if let Some(plugin) = plugin {
            let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
            if let Some(sampler) = plugins.get(plugin) {
                return sampler.should_sample(
                    parent_context,
                    trace_id,
                    name,
                    span_kind,
                    attributes,
                    links,
                );
            }
        }
        self.default
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// Parses a sampler as `OTEL_TRACES_SAMPLER` names it, with the argument
/// of `OTEL_TRACES_SAMPLER_ARG` after a colon: `always_on`, `always_off`,
/// `traceidratio:0.1`, `parentbased_always_on`, `parentbased_always_off`,
/// `parentbased_traceidratio:0.1`. Unlike the variables, a bad value is an
/// error: it comes from a command line, where a typo should not pass.
pub fn parse_sampler(spec: &str) -> anyhow::Result<Sampler> {
    let (name, arg) = match spec.split_once(':') {
        Some((name, arg)) => (name.trim(), Some(arg.trim())),
        None => (spec.trim(), None),
    };
    let ratio = || -> anyhow::Result<f64> {
        let arg = arg.ok_or_else(|| anyhow::anyhow!("{name} needs a ratio: {name}:0.1"))?;
        match arg.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => anyhow::bail!("{name}: ratio {arg:?} is not a number from 0 to 1"),
        }
    };
    let no_arg = |sampler: Sampler| match arg {
        Some(arg) => anyhow::bail!("{name} takes no argument (got {arg:?})"),
        None => Ok(sampler),
    };
    match name {
        "always_on" => no_arg(Sampler::AlwaysOn),
        "always_off" => no_arg(Sampler::AlwaysOff),
        "traceidratio" => Ok(Sampler::TraceIdRatioBased(ratio()?)),
        "parentbased_always_on" => no_arg(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))),
        "parentbased_always_off" => no_arg(Sampler::ParentBased(Box::new(Sampler::AlwaysOff))),
        "parentbased_traceidratio" => Ok(Sampler::ParentBased(Box::new(
            Sampler::TraceIdRatioBased(ratio()?),
        ))),
        other => anyhow::bail!(
            "unknown sampler {other:?} (use always_on, always_off, traceidratio:R, parentbased_always_on, parentbased_always_off or parentbased_traceidratio:R)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::SamplingDecision;

    fn decide(s: &PluginSampler, attrs: &[KeyValue]) -> SamplingDecision {
        s.should_sample(
            None,
            TraceId::from(7u128),
            "x",
            &SpanKind::Internal,
            attrs,
            &[],
        )
        .decision
    }

    #[test]
    fn sampler_specs_parse_like_otel_traces_sampler() {
        assert!(matches!(
            parse_sampler("always_off").unwrap(),
            Sampler::AlwaysOff
        ));
        assert!(matches!(
            parse_sampler("traceidratio:0.25").unwrap(),
            Sampler::TraceIdRatioBased(r) if r == 0.25
        ));
        assert!(matches!(
            parse_sampler("parentbased_traceidratio:1").unwrap(),
            Sampler::ParentBased(_)
        ));
        for bad in [
            "traceidratio",
            "traceidratio:2",
            "always_on:1",
            "sometimes",
            "traceidratio:x",
        ] {
            assert!(parse_sampler(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plugins_get_their_own_sampler_and_others_the_default() {
        let s = PluginSampler::new(Sampler::AlwaysOn);
        s.set("noisy", Sampler::AlwaysOff);
        let noisy = [KeyValue::new(ATTR_PLUGIN_NAME, "noisy")];
        let quiet = [KeyValue::new(ATTR_PLUGIN_NAME, "quiet")];
        assert_eq!(decide(&s, &noisy), SamplingDecision::Drop);
        assert_eq!(decide(&s, &quiet), SamplingDecision::RecordAndSample);
        assert_eq!(decide(&s, &[]), SamplingDecision::RecordAndSample);
        s.remove("noisy");
        assert_eq!(decide(&s, &noisy), SamplingDecision::RecordAndSample);
    }
}
