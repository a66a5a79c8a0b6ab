//! The generator's YAML config: schema (serde, unknown fields refused), validation, and the
//! resolved [`Generator`] the engine runs. Errors name the file, line, column and field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_saphyr::{Location, Spanned};

use super::plan::Order;
use super::space::{cumulative, Dist, InputFile, Inputs, Pass, SizeClass, Space};
use crate::trace::catalog::check_name;
use crate::trace::input::Input;
use crate::trace::yaml_de::{at, from_saphyr, Seconds};
use crate::trace::{FunctionSpec, TraceError, SYNTHETIC_KIND};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    order: Option<Order>,
    #[serde(default)]
    pause: Option<Seconds>,
    functions: Spanned<Vec<Spanned<RawFunction>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    name: Spanned<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    code_file: Option<Spanned<String>>,
    #[serde(default)]
    deploy: Option<bool>,
    runs: Spanned<u64>,
    #[serde(default)]
    memory_mb: Option<Spanned<Vec<u32>>>,
    #[serde(default)]
    timeout_ms: Option<u32>,
    #[serde(default)]
    cold_start: Option<bool>,
    #[serde(default)]
    pause: Option<Seconds>,
    #[serde(default)]
    params: Option<Map<String, Value>>,
    #[serde(default)]
    space: BTreeMap<String, Spanned<RawDist>>,
    #[serde(default)]
    inputs: Option<Spanned<RawInputs>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDist {
    #[serde(default)]
    uniform: Option<[f64; 2]>,
    #[serde(default)]
    log_uniform: Option<[f64; 2]>,
    #[serde(default)]
    int: Option<[i64; 2]>,
    #[serde(default)]
    normal: Option<RawNormal>,
    #[serde(default)]
    choice: Option<Vec<Value>>,
    #[serde(default)]
    weights: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNormal {
    mean: f64,
    std: f64,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInputs {
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    pass: Option<Pass>,
    classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    weights: Option<BTreeMap<String, f64>>,
}

/// One deployed action of a function: the function at one memory limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Action name: the function's, suffixed `-m<MB>` when the config lists memory limits.
    pub action: String,
    /// Memory limit (none: the platform's default).
    pub memory_mb: Option<u32>,
}

/// One function of the config, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Function {
    /// Function name (the `function` column).
    pub name: String,
    /// How to deploy it (name and memory are set per variant).
    pub spec: FunctionSpec,
    /// Points drawn; each runs once per variant.
    pub runs: u64,
    /// Memory variants, in the order the config lists them.
    pub variants: Vec<Variant>,
    /// Update the action before every run (a new revision), so every run is a cold start.
    pub cold_start: bool,
    /// Pause after each run.
    pub pause: Duration,
    /// Fixed parameters sent with every run (sampled ones win on a clash).
    pub params: Map<String, Value>,
    /// The input space.
    pub space: Space,
}

/// A validated generator config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generator {
    /// Global seed.
    pub seed: u64,
    /// Run order.
    pub order: Order,
    /// Functions, in config order.
    pub functions: Vec<Function>,
}

impl Generator {
    /// Rows of the whole run.
    pub fn total_rows(&self) -> u64 {
        self.functions
            .iter()
            .map(|f| f.runs.saturating_mul(f.variants.len() as u64))
            .fold(0u64, u64::saturating_add)
    }

    /// SHA-256 of the canonical (JSON) form of the resolved config, seed included: what a
    /// checkpoint must match to be resumed.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        super::rng::sha256_hex(&[b"gale-generate-config/v1\0", &json])
    }
}

/// Read and validate a config; `seed` overrides the file's.
pub fn load(path: &Path, seed: Option<u64>) -> Result<Generator, TraceError> {
    load_input(Input::File(path.to_path_buf()), seed)
}

/// [`load`] from any input (bytes in memory for the fuzz targets); relative paths resolve
/// against the input's name's directory.
pub fn load_input(input: Input, seed: Option<u64>) -> Result<Generator, TraceError> {
    let path = input.name().to_path_buf();
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let raw: RawConfig = serde_saphyr::from_reader_with_options(input.open()?, options)
        .map_err(|e| from_saphyr(&input, &e))?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let ctx = Ctx { input, base };
    let default_pause = Duration::from_nanos(raw.pause.map_or(0, |p| p.0));
    if raw.functions.value.is_empty() {
        return Err(ctx.err(
            &raw.functions.referenced,
            "functions",
            "expected at least one function",
        ));
    }
    let mut functions: Vec<Function> = Vec::new();
    for f in raw.functions.value {
        let func = ctx.function(f.value, default_pause)?;
        if let Some(prev) = functions.iter().find(|p| p.name == func.name) {
            return Err(ctx.err(
                &f.referenced,
                "name",
                format!("function `{}` is declared twice", prev.name),
            ));
        }
        // `f` with `memory_mb: [128]` deploys `f-m128`: a function of that very name would
        // silently share its action (and its measurements).
        for v in &func.variants {
            let clash = functions
                .iter()
                .find(|p| p.variants.iter().any(|pv| pv.action == v.action));
            if let Some(prev) = clash {
                return Err(ctx.err(
                    &f.referenced,
                    "name",
                    format!(
                        "function `{}` deploys the action `{}`, which function `{}` deploys too \
                         (a memory size `-mN` suffix is part of the action name); rename one",
                        func.name, v.action, prev.name
                    ),
                ));
            }
        }
        functions.push(func);
    }
    Ok(Generator {
        seed: seed.or(raw.seed).unwrap_or(0),
        order: raw.order.unwrap_or_default(),
        functions,
    })
}

struct Ctx {
    input: Input,
    base: PathBuf,
}

impl Ctx {
    fn err(&self, loc: &Location, field: &str, msg: impl Into<String>) -> TraceError {
        at(&self.input, loc, field, msg)
    }

    fn function(&self, f: RawFunction, default_pause: Duration) -> Result<Function, TraceError> {
        let name = f.name.value;
        check_name(&name, "function").map_err(|m| self.err(&f.name.referenced, "name", m))?;
        if f.runs.value == 0 {
            return Err(self.err(&f.runs.referenced, "runs", "expected at least 1 run"));
        }
        let code = match &f.code_file {
            Some(file) => {
                let p = self.base.join(&file.value);
                Some(
                    crate::regular_file::read_text(&p, crate::regular_file::MAX_CODE_BYTES)
                        .map_err(|e| {
                            let msg = format!("cannot read `{}`: {e}", p.display());
                            self.err(&file.referenced, "code_file", msg)
                        })?,
                )
            }
            None => None,
        };
        let variants = match f.memory_mb {
            None => vec![Variant {
                action: name.clone(),
                memory_mb: None,
            }],
            Some(list) => {
                let mut v: Vec<Variant> = Vec::new();
                for &m in &list.value {
                    if m == 0 || v.iter().any(|x| x.memory_mb == Some(m)) {
                        let msg = format!(
                            "expected distinct positive sizes in MB, got {m} twice or 0 in {:?}",
                            list.value
                        );
                        return Err(self.err(&list.referenced, "memory_mb", msg));
                    }
                    v.push(Variant {
                        action: format!("{name}-m{m}"),
                        memory_mb: Some(m),
                    });
                }
                if v.is_empty() {
                    let msg = "expected at least one memory size (leave the field out for the platform's default)";
                    return Err(self.err(&list.referenced, "memory_mb", msg));
                }
                v
            }
        };
        let mut params_space = Vec::new();
        for (pname, raw) in f.space {
            check_name(&pname, "parameter").map_err(|m| self.err(&raw.referenced, "space", m))?;
            let dist = self.dist(&pname, raw)?;
            params_space.push((pname, dist));
        }
        let inputs = match f.inputs {
            Some(raw) => Some(self.inputs(raw)?),
            None => None,
        };
        if let Some(inp) = &inputs {
            if params_space.iter().any(|(n, _)| *n == inp.param) {
                return Err(self.err(
                    &f.name.referenced,
                    "inputs.param",
                    format!(
                        "`{}` is both a sampled parameter and the input file parameter",
                        inp.param
                    ),
                ));
            }
        }
        let spec = FunctionSpec {
            name: name.clone(),
            kind: f.kind.unwrap_or_else(|| SYNTHETIC_KIND.to_string()),
            code,
            code_file: None,
            memory_mb: None,
            timeout_ms: f.timeout_ms,
            params: Map::new(),
            deploy: f.deploy.unwrap_or(true),
            blocking: Some(true),
            ..FunctionSpec::synthetic(&name)
        };
        Ok(Function {
            name,
            spec,
            runs: f.runs.value,
            variants,
            cold_start: f.cold_start.unwrap_or(false),
            pause: f.pause.map_or(default_pause, |p| Duration::from_nanos(p.0)),
            params: f.params.unwrap_or_default(),
            space: Space {
                params: params_space,
                inputs,
            },
        })
    }

    fn dist(&self, name: &str, raw: Spanned<RawDist>) -> Result<Dist, TraceError> {
        let loc = raw.referenced;
        let field = format!("space.{name}");
        let bad = |msg: String| self.err(&loc, &field, msg);
        let r = raw.value;
        let kinds = [
            r.uniform.is_some(),
            r.log_uniform.is_some(),
            r.int.is_some(),
            r.normal.is_some(),
            r.choice.is_some(),
        ];
        if kinds.iter().filter(|&&k| k).count() != 1 {
            return Err(bad(
                "expected exactly one of uniform: [lo, hi], log_uniform: [lo, hi], int: [lo, hi], \
                 normal: {mean, std}, choice: [values] (with optional weights)"
                    .into(),
            ));
        }
        if r.weights.is_some() && r.choice.is_none() {
            return Err(bad("`weights` goes with `choice` only".into()));
        }
        let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite());
        if let Some([lo, hi]) = r.uniform {
            if !(finite(&[lo, hi]) && lo < hi) {
                return Err(bad(format!(
                    "uniform: expected finite lo < hi, got [{lo}, {hi}]"
                )));
            }
            return Ok(Dist::Uniform { lo, hi });
        }
        if let Some([lo, hi]) = r.log_uniform {
            if !(finite(&[lo, hi]) && 0.0 < lo && lo < hi) {
                return Err(bad(format!(
                    "log_uniform: expected finite 0 < lo < hi, got [{lo}, {hi}]"
                )));
            }
            return Ok(Dist::LogUniform { lo, hi });
        }
        if let Some([lo, hi]) = r.int {
            if lo > hi {
                return Err(bad(format!("int: expected lo <= hi, got [{lo}, {hi}]")));
            }
            return Ok(Dist::Int { lo, hi });
        }
        if let Some(n) = r.normal {
            let bounds = [n.min.unwrap_or(0.0), n.max.unwrap_or(0.0)];
            if !(finite(&[n.mean, n.std]) && n.std > 0.0 && finite(&bounds)) {
                return Err(bad(format!(
                    "normal: expected a finite mean and std > 0, got mean {} std {}",
                    n.mean, n.std
                )));
            }
            if let (Some(a), Some(b)) = (n.min, n.max) {
                if a > b {
                    return Err(bad(format!("normal: expected min <= max, got {a} > {b}")));
                }
            }
            return Ok(Dist::Normal {
                mean: n.mean,
                std: n.std,
                min: n.min,
                max: n.max,
            });
        }
        let values = r.choice.unwrap_or_default();
        if values.is_empty()
            || values
                .iter()
                .any(|v| v.is_array() || v.is_object() || v.is_null())
        {
            return Err(bad(
                "choice: expected a non-empty list of numbers, strings or booleans".into(),
            ));
        }
        let weights = r.weights.unwrap_or_else(|| vec![1.0; values.len()]);
        if weights.len() != values.len()
            || !finite(&weights)
            || weights.iter().any(|&w| w < 0.0)
            || weights.iter().sum::<f64>() <= 0.0
        {
            return Err(bad(format!(
                "weights: expected {} non-negative numbers (one per value) with a positive sum, got {weights:?}",
                values.len()
            )));
        }
        Ok(Dist::Choice {
            values,
            cumulative: cumulative(&weights),
        })
    }

    fn inputs(&self, raw: Spanned<RawInputs>) -> Result<Inputs, TraceError> {
        let loc = raw.referenced;
        let r = raw.value;
        let pass = r.pass.unwrap_or(Pass::Path);
        let mut classes = Vec::new();
        for (name, entries) in r.classes {
            let mut files = Vec::new();
            for entry in &entries {
                let path = self.base.join(entry);
                let field = format!("inputs.classes.{name}");
                let listed = list_files(&path).map_err(|e| {
                    self.err(
                        &loc,
                        &field,
                        format!("cannot read `{}`: {e}", path.display()),
                    )
                })?;
                for p in listed {
                    let meta = std::fs::metadata(&p).map_err(|e| {
                        self.err(&loc, &field, format!("cannot read `{}`: {e}", p.display()))
                    })?;
                    if let Err(e) = crate::regular_file::check(&p) {
                        return Err(self.err(&loc, &field, format!("`{}`: {e}", p.display())));
                    }
                    if pass == Pass::Content {
                        if let Err(e) =
                            crate::regular_file::read_text(&p, crate::regular_file::MAX_CODE_BYTES)
                        {
                            return Err(self.err(&loc, &field, format!(
                                "`{}` cannot be passed by content ({e}): `pass: content` needs UTF-8 text of at most 48 MiB (or use `pass: path` or `name`)",
                                p.display()
                            )));
                        }
                    }
                    let label = p
                        .strip_prefix(&self.base)
                        .unwrap_or(&p)
                        .display()
                        .to_string();
                    files.push(InputFile {
                        label,
                        path: p,
                        bytes: meta.len(),
                    });
                }
            }
            if files.is_empty() {
                let msg = format!("size class `{name}` has no files");
                return Err(self.err(&loc, &format!("inputs.classes.{name}"), msg));
            }
            classes.push(SizeClass { name, files });
        }
        if classes.is_empty() {
            return Err(self.err(&loc, "inputs.classes", "expected at least one size class"));
        }
        let weights = match r.weights {
            None => vec![1.0; classes.len()],
            Some(w) => {
                if let Some(k) = w.keys().find(|k| !classes.iter().any(|c| &c.name == *k)) {
                    return Err(self.err(
                        &loc,
                        "inputs.weights",
                        format!("`{k}` is not a size class"),
                    ));
                }
                classes
                    .iter()
                    .map(|c| w.get(&c.name).copied().unwrap_or(0.0))
                    .collect()
            }
        };
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0
        {
            return Err(self.err(
                &loc,
                "inputs.weights",
                "expected non-negative weights with a positive sum",
            ));
        }
        Ok(Inputs {
            param: r.param.unwrap_or_else(|| "input".into()),
            pass,
            classes,
            cumulative: cumulative(&weights),
        })
    }
}

/// A file, or the regular files of a directory (not recursive) in name order.
fn list_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(path)? {
        let e = e?;
        if e.file_type()?.is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Generator, TraceError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/a.txt"), "hello").unwrap();
        let p = dir.path().join("gen.yml");
        std::fs::write(&p, text).unwrap();
        load(&p, None)
    }

    fn err(text: &str) -> TraceError {
        load_text(text).expect_err("the config must be refused")
    }

    #[test]
    fn a_full_config_resolves() {
        let g = load_text(
            "seed: 3\norder: shuffled\npause: 5ms\nfunctions:\n\
             - name: f\n  runs: 4\n  memory_mb: [128, 256]\n  params: {sleep_ms: 1}\n  space:\n    \
               cpu_ms: {uniform: [1, 2]}\n    b: {choice: [x, 2, true], weights: [1, 1, 2]}\n    \
               c: {normal: {mean: 1, std: 2, min: 0}}\n  inputs:\n    classes: {small: [in]}\n\
             - {name: g, runs: 2, cold_start: true, pause: 1s}\n",
        )
        .unwrap();
        assert_eq!((g.seed, g.order, g.total_rows()), (3, Order::Shuffled, 10));
        let f = &g.functions[0];
        assert_eq!(f.variants[1].action, "f-m256");
        assert_eq!(f.pause, Duration::from_millis(5));
        let names: Vec<_> = f.space.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "c", "cpu_ms"], "name order");
        let inp = f.space.inputs.as_ref().unwrap();
        assert_eq!(
            (inp.param.as_str(), inp.classes[0].files[0].bytes),
            ("input", 5)
        );
        assert_eq!(inp.classes[0].files[0].label, "in/a.txt");
        assert!(g.functions[1].cold_start);
        assert_eq!(g.functions[1].pause, Duration::from_secs(1));
        let mut other = g.clone();
        other.seed = 4;
        assert_ne!(g.fingerprint(), other.fingerprint());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = err("functions:\n  - name: f\n    runs: 1\n    colour: red\n");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(4), Some("colour")),
            "{e}"
        );
        assert!(e.to_string().contains("gen.yml:4"), "{e}");

        let e =
            err("functions:\n  - name: f\n    runs: 1\n    space:\n      x: {uniform: [3, 1]}\n");
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(5), Some("space.x")),
            "{e}"
        );
        assert!(e.message.contains("lo < hi"), "{e}");

        let e = err("functions:\n  - name: f\n    runs: 0\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("runs")), "{e}");

        let e = err("functions:\n  - name: f\n    runs: x\n");
        assert_eq!(e.line, Some(3), "{e}");

        let e =
            err("functions:\n  - {name: f, runs: 1, space: {y: {choice: [a, b], weights: [1]}}}\n");
        assert_eq!(e.field.as_deref(), Some("space.y"), "{e}");
        assert!(e.message.contains("one per value"), "{e}");

        let e =
            err("functions:\n  - {name: f, runs: 1, space: {y: {int: [1, 2], uniform: [1, 2]}}}\n");
        assert!(e.message.contains("exactly one of"), "{e}");

        let e = err("functions:\n  - {name: f, runs: 1}\n  - {name: f, runs: 2}\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("name")), "{e}");

        let e = err("functions:\n  - {name: f, runs: 1, inputs: {classes: {small: [nope]}}}\n");
        assert_eq!(e.field.as_deref(), Some("inputs.classes.small"), "{e}");

        let e = err("functions:\n  - {name: f, runs: 1, code_file: missing.py}\n");
        assert_eq!(e.field.as_deref(), Some("code_file"), "{e}");

        // Both orders: the suffixed action of one function is the other's plain name.
        for text in [
            "functions:\n  - {name: f, runs: 1, memory_mb: [128]}\n  - {name: f-m128, runs: 1}\n",
            "functions:\n  - {name: f-m128, runs: 1}\n  - {name: f, runs: 1, memory_mb: [128]}\n",
        ] {
            let e = err(text);
            assert_eq!((e.line, e.field.as_deref()), (Some(3), Some("name")), "{e}");
            assert!(e.message.contains("`f-m128`"), "{e}");
        }

        let e = err("functions: []\n");
        assert_eq!(e.field.as_deref(), Some("functions"), "{e}");

        let e = err("order: random\nfunctions:\n  - {name: f, runs: 1}\n");
        assert_eq!(e.line, Some(1), "{e}");
    }
}
