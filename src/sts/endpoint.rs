//! STS endpoint resolution: which URL to send an STS request to, and which
//! region to sign it for. Pure code, no I/O.
//!
//! This module owns a small copy of the AWS partition table (the facts of the
//! SDKs' `partitions.json`) and a hand-written version of the STS endpoint
//! rule set. It does not choose *where* the inputs come from (profile, env,
//! flags); the caller fills in [`EndpointParams`].
//!
//! # Partitions
//!
//! A region belongs to a partition, found in this order (as the SDKs do):
//!
//! 1. a region name one partition lists explicitly (the pseudo-regions such
//!    as `aws-global`, `aws-cn-global`, `aws-us-gov-global`, ...);
//! 2. the first partition whose region pattern matches. Every pattern has
//!    the shape `^PREFIX-\w+-\d+$` (for example `^us-gov-\w+-\d+$`); because
//!    `\w` excludes `-`, the patterns never overlap (`us-isob-east-1` is
//!    `aws-iso-b`, not `aws-iso`, and `us-gov-west-1` is not `aws`);
//! 3. otherwise the `aws` partition. An unknown future region therefore
//!    resolves to `sts.{region}.amazonaws.com`, exactly as the SDKs do.
//!
//! Each partition has a DNS suffix, a dual-stack DNS suffix and flags saying
//! whether it offers FIPS and dual-stack endpoints.
//!
//! # STS rules, in order
//!
//! 1. **Legacy global endpoint** (`sts_regional_endpoints = legacy`): when
//!    `use_global_endpoint` is set, no custom endpoint is configured, FIPS and
//!    dual-stack are off and the region is one of the sixteen regions that
//!    historically used the global endpoint (see [`LEGACY_GLOBAL_REGIONS`]),
//!    the endpoint is `https://sts.amazonaws.com`, signed for `us-east-1`.
//!    Any other region falls through to the regional rules.
//! 2. **Custom endpoint**: FIPS or dual-stack together with a custom endpoint
//!    is an error. Otherwise the URL is used as given (after a minimal check:
//!    `http`/`https` scheme and a non-empty host; one trailing `/` is
//!    stripped), signed for the region, or `us-east-1` when no region is set.
//! 3. **No region**: an error.
//! 4. **FIPS and dual-stack**: `https://sts-fips.{region}.{dualStackDnsSuffix}`.
//! 5. **FIPS**: `https://sts-fips.{region}.{dnsSuffix}`, except in
//!    `aws-us-gov`, where the regular host `https://sts.{region}.amazonaws.com`
//!    is the FIPS endpoint.
//! 6. **Dual-stack**: `https://sts.{region}.{dualStackDnsSuffix}`.
//! 7. **`aws-global`**: `https://sts.amazonaws.com`, signed for `us-east-1`.
//! 8. Otherwise `https://sts.{region}.{dnsSuffix}`.
//!
//! Rules 4-8 are signed for the region itself. A partition that lacks FIPS or
//! dual-stack support makes rules 4-6 fail instead of guessing a host.
//!
//! Unlike the SDK rule set, the region must be a valid DNS label (letters,
//! digits and inner hyphens, at most 63 characters), since it becomes part
//! of a host name: `evil.com/x` must not be able to redirect the request.
//! An empty region counts as no region.

/// Inputs to endpoint resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointParams {
    /// The configured region, e.g. `eu-west-1`. `Some("")` counts as `None`.
    pub region: Option<String>,
    /// Use the FIPS endpoint.
    pub use_fips: bool,
    /// Use the dual-stack (IPv4 + IPv6) endpoint.
    pub use_dual_stack: bool,
    /// Legacy `sts_regional_endpoints = legacy`: send requests from the
    /// historically global regions to `sts.amazonaws.com`.
    pub use_global_endpoint: bool,
    /// A configured endpoint URL (`AWS_ENDPOINT_URL_STS` and the like),
    /// already chosen by the caller.
    pub endpoint: Option<String>,
}

/// A resolved STS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL to send requests to, without a trailing `/`.
    pub url: String,
    /// The region to put in the SigV4 credential scope.
    pub signing_region: String,
}

/// Why no endpoint could be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Neither a region nor a custom endpoint is configured.
    #[error("invalid configuration: no AWS region is set (set a region, or configure an STS endpoint URL)")]
    MissingRegion,
    /// FIPS was asked for together with a custom endpoint.
    #[error("invalid configuration: FIPS cannot be used with a custom endpoint URL")]
    FipsWithCustomEndpoint,
    /// Dual-stack was asked for together with a custom endpoint.
    #[error("invalid configuration: dual-stack cannot be used with a custom endpoint URL")]
    DualStackWithCustomEndpoint,
    /// The region is not a valid DNS label, so it cannot be part of a host name.
    #[error("invalid region {region:?}: a region must be letters, digits and inner hyphens (like \"eu-west-1\")")]
    InvalidRegion {
        /// The region as given.
        region: String,
    },
    /// The custom endpoint URL is not an `http://` or `https://` URL with a host.
    #[error("invalid endpoint URL {url:?}: expected http:// or https:// followed by a host")]
    InvalidEndpointUrl {
        /// The URL as given.
        url: String,
    },
    /// FIPS was asked for in a partition that has no FIPS endpoints.
    #[error("FIPS is enabled but partition {partition} does not support FIPS")]
    FipsNotSupported {
        /// The partition id, e.g. `aws-iso`.
        partition: String,
    },
    /// Dual-stack was asked for in a partition that has no dual-stack endpoints.
    #[error("dual-stack is enabled but partition {partition} does not support dual-stack")]
    DualStackNotSupported {
        /// The partition id, e.g. `aws-iso`.
        partition: String,
    },
}

/// The regions that used `sts.amazonaws.com` before regional STS endpoints
/// became the default; only these go global under `use_global_endpoint`.
pub const LEGACY_GLOBAL_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

const GLOBAL_URL: &str = "https://sts.amazonaws.com";
const GLOBAL_SIGNING_REGION: &str = "us-east-1";
/// Signing region for a custom endpoint when no region is configured.
const DEFAULT_SIGNING_REGION: &str = "us-east-1";

/// One AWS partition, as described by the SDKs' `partitions.json`.
#[derive(Debug)]
struct Partition {
    id: &'static str,
    /// The partition's region pattern `^(p1|p2|...)-\w+-\d+$`, as the list of
    /// alternatives for the prefix.
    region_prefixes: &'static [&'static str],
    /// Region names listed explicitly that the pattern does not match. (The
    /// real file also lists the ordinary regions, but they all match the
    /// pattern and carry no overrides, so listing them changes nothing.)
    named_regions: &'static [&'static str],
    dns_suffix: &'static str,
    dual_stack_dns_suffix: &'static str,
    supports_fips: bool,
    supports_dual_stack: bool,
}

impl Partition {
    /// Does `region` match `^(prefixes)-\w+-\d+$`?
    fn pattern_matches(&self, region: &str) -> bool {
        self.region_prefixes.iter().any(|prefix| {
            region
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|rest| rest.split_once('-'))
                .is_some_and(|(word, number)| {
                    !word.is_empty()
                        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        && !number.is_empty()
                        && number.bytes().all(|b| b.is_ascii_digit())
                })
        })
    }
}

/// The partitions, facts taken from `partitions.json` (version 1.1) as
/// shipped with the AWS SDKs. The first entry must be `aws`: it is also the
/// fallback for regions no partition claims.
static PARTITIONS: &[Partition] = &[
    Partition {
        id: "aws",
        region_prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
        named_regions: &["aws-global"],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-cn",
        region_prefixes: &["cn"],
        named_regions: &["aws-cn-global"],
        dns_suffix: "amazonaws.com.cn",
        dual_stack_dns_suffix: "api.amazonwebservices.com.cn",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-eusc",
        region_prefixes: &["eusc-de"],
        named_regions: &[],
        dns_suffix: "amazonaws.eu",
        dual_stack_dns_suffix: "api.amazonwebservices.eu",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-iso",
        region_prefixes: &["us-iso"],
        named_regions: &["aws-iso-global"],
        dns_suffix: "c2s.ic.gov",
        dual_stack_dns_suffix: "api.aws.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-iso-b",
        region_prefixes: &["us-isob"],
        named_regions: &["aws-iso-b-global"],
        dns_suffix: "sc2s.sgov.gov",
        dual_stack_dns_suffix: "api.aws.scloud",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-iso-e",
        region_prefixes: &["eu-isoe"],
        named_regions: &["aws-iso-e-global"],
        dns_suffix: "cloud.adc-e.uk",
        dual_stack_dns_suffix: "api.cloud-aws.adc-e.uk",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-iso-f",
        region_prefixes: &["us-isof"],
        named_regions: &["aws-iso-f-global"],
        dns_suffix: "csp.hci.ic.gov",
        dual_stack_dns_suffix: "api.aws.hci.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
    },
    Partition {
        id: "aws-us-gov",
        region_prefixes: &["us-gov"],
        named_regions: &["aws-us-gov-global"],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
    },
];

/// Resolve the STS endpoint for `params`. See the module documentation for
/// the rules.
pub fn resolve(params: &EndpointParams) -> Result<Endpoint, EndpointError> {
    resolve_in(params, PARTITIONS)
}

/// [`resolve`] against a given partition table (tests use a fake one).
fn resolve_in(params: &EndpointParams, partitions: &[Partition]) -> Result<Endpoint, EndpointError> {
    let region = params.region.as_deref().filter(|r| !r.is_empty());
    if let Some(region) = region
        && !is_valid_host_label(region)
    {
        return Err(EndpointError::InvalidRegion { region: region.to_owned() });
    }

    // Rule 1: legacy global endpoint. It never applies with a custom endpoint.
    if params.use_global_endpoint
        && params.endpoint.is_none()
        && !params.use_fips
        && !params.use_dual_stack
        && let Some(region) = region
        && LEGACY_GLOBAL_REGIONS.contains(&region)
    {
        return Ok(global_endpoint());
    }

    // Rule 2: custom endpoint.
    if let Some(url) = &params.endpoint {
        if params.use_fips {
            return Err(EndpointError::FipsWithCustomEndpoint);
        }
        if params.use_dual_stack {
            return Err(EndpointError::DualStackWithCustomEndpoint);
        }
        if !is_valid_endpoint_url(url) {
            return Err(EndpointError::InvalidEndpointUrl { url: url.clone() });
        }
        let url = url.strip_suffix('/').unwrap_or(url);
        return Ok(Endpoint {
            url: url.to_owned(),
            signing_region: region.unwrap_or(DEFAULT_SIGNING_REGION).to_owned(),
        });
    }

    // Rule 3: from here on a region is required.
    let region = region.ok_or(EndpointError::MissingRegion)?;
    let partition = partition_for(region, partitions);
    let unsupported_fips = || EndpointError::FipsNotSupported { partition: partition.id.to_owned() };
    let unsupported_dual_stack = || EndpointError::DualStackNotSupported { partition: partition.id.to_owned() };

    let url = match (params.use_fips, params.use_dual_stack) {
        // Rule 4.
        (true, true) => {
            if !partition.supports_fips {
                return Err(unsupported_fips());
            }
            if !partition.supports_dual_stack {
                return Err(unsupported_dual_stack());
            }
            format!("https://sts-fips.{region}.{}", partition.dual_stack_dns_suffix)
        }
        // Rule 5.
        (true, false) => {
            if !partition.supports_fips {
                return Err(unsupported_fips());
            }
            if partition.id == "aws-us-gov" {
                // GovCloud's regular STS endpoints are FIPS endpoints.
                format!("https://sts.{region}.amazonaws.com")
            } else {
                format!("https://sts-fips.{region}.{}", partition.dns_suffix)
            }
        }
        // Rule 6.
        (false, true) => {
            if !partition.supports_dual_stack {
                return Err(unsupported_dual_stack());
            }
            format!("https://sts.{region}.{}", partition.dual_stack_dns_suffix)
        }
        // Rule 7.
        (false, false) if region == "aws-global" => return Ok(global_endpoint()),
        // Rule 8.
        (false, false) => format!("https://sts.{region}.{}", partition.dns_suffix),
    };
    Ok(Endpoint { url, signing_region: region.to_owned() })
}

fn global_endpoint() -> Endpoint {
    Endpoint { url: GLOBAL_URL.to_owned(), signing_region: GLOBAL_SIGNING_REGION.to_owned() }
}

/// The id of the partition `region` belongs to (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn partition_id(region: &str) -> &'static str {
    partition_for(region, PARTITIONS).id
}

/// The partition an ARN names (`arn:PARTITION:...`), if it is one of the known partitions: a
/// role or MFA device exists in that partition only, and only its STS endpoints know it.
pub fn arn_partition(arn: &str) -> Option<&'static str> {
    let named = arn.strip_prefix("arn:")?.split(':').next()?;
    PARTITIONS.iter().map(|p| p.id).find(|id| *id == named)
}

/// A region of the partition `id`, for hints.
pub fn example_region(id: &str) -> Option<&'static str> {
    Some(match id {
        "aws" => "us-east-1",
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        "aws-eusc" => "eusc-de-east-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        "aws-iso-e" => "eu-isoe-west-1",
        "aws-iso-f" => "us-isof-south-1",
        _ => return None,
    })
}

/// The partition `region` belongs to: an explicitly named region first, then
/// the region patterns, then the first partition (`aws`).
fn partition_for<'a>(region: &str, partitions: &'a [Partition]) -> &'a Partition {
    partitions
        .iter()
        .find(|p| p.named_regions.contains(&region))
        .or_else(|| partitions.iter().find(|p| p.pattern_matches(region)))
        .unwrap_or(&partitions[0])
}

/// A DNS label: 1-63 ASCII letters, digits and hyphens, not starting or
/// ending with a hyphen.
fn is_valid_host_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// A minimal URL check: `http` or `https` scheme, then a non-empty host
/// (with an optional `user@` and an optional numeric port), no whitespace
/// or control characters anywhere.
fn is_valid_endpoint_url(url: &str) -> bool {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host_ok, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        // IPv6 literal: `[addr]` or `[addr]:port`.
        let Some((addr, after)) = bracketed.split_once(']') else {
            return false;
        };
        let addr_ok = !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        (addr_ok, port)
    } else {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        (!host.is_empty() && !host.contains(['[', ']']), port)
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file also has `source` and `note`; serde skips them.
    #[derive(serde::Deserialize)]
    struct CaseFile {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        docs: String,
        region: Option<String>,
        use_fips: Option<bool>,
        use_dual_stack: Option<bool>,
        use_global_endpoint: Option<bool>,
        endpoint: Option<String>,
        expect_url: Option<String>,
        signing_region: Option<String>,
        expect_error: Option<String>,
    }

    /// Map the SDK's error text to the variant that means the same.
    fn expected_error(message: &str) -> Option<EndpointError> {
        if message.contains("Missing Region") {
            Some(EndpointError::MissingRegion)
        } else if message.contains("FIPS and custom endpoint") {
            Some(EndpointError::FipsWithCustomEndpoint)
        } else if message.contains("Dualstack and custom endpoint") {
            Some(EndpointError::DualStackWithCustomEndpoint)
        } else {
            None
        }
    }

    #[test]
    fn published_sts_endpoint_cases() {
        let file: CaseFile = serde_json::from_str(include_str!("../../tests/data/sts-endpoints.json"))
            .expect("tests/data/sts-endpoints.json parses");
        assert!(!file.cases.is_empty(), "no cases in the file");

        let mut failures = Vec::new();
        for case in &file.cases {
            let params = EndpointParams {
                region: case.region.clone(),
                use_fips: case.use_fips.unwrap_or(false),
                use_dual_stack: case.use_dual_stack.unwrap_or(false),
                use_global_endpoint: case.use_global_endpoint.unwrap_or(false),
                endpoint: case.endpoint.clone(),
            };
            let got = resolve(&params);
            let expected = match (&case.expect_url, &case.expect_error) {
                (Some(url), None) => {
                    let signing_region = case
                        .signing_region
                        .clone()
                        .or_else(|| case.region.clone())
                        .unwrap_or_else(|| DEFAULT_SIGNING_REGION.to_owned());
                    Ok(Endpoint { url: url.clone(), signing_region })
                }
                (None, Some(message)) => match expected_error(message) {
                    Some(error) => Err(error),
                    None => {
                        failures.push(format!("{} ({}): unknown expected error {message:?}", case.name, case.docs));
                        continue;
                    }
                },
                _ => {
                    failures
                        .push(format!("{} ({}): needs exactly one of expect_url / expect_error", case.name, case.docs));
                    continue;
                }
            };
            if got != expected {
                failures.push(format!(
                    "{} ({}):\n    params:   {params:?}\n    expected: {expected:?}\n    got:      {got:?}",
                    case.name, case.docs
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            file.cases.len(),
            failures.join("\n")
        );
    }

    fn params(region: &str) -> EndpointParams {
        EndpointParams { region: Some(region.to_owned()), ..EndpointParams::default() }
    }

    fn url_of(p: &EndpointParams) -> String {
        match resolve(p) {
            Ok(endpoint) => endpoint.url,
            Err(e) => panic!("{p:?} failed: {e}"),
        }
    }

    #[test]
    fn aws_iso_partition() {
        let mut p = params("us-iso-east-1");
        let endpoint = resolve(&p).unwrap();
        assert_eq!(endpoint.url, "https://sts.us-iso-east-1.c2s.ic.gov");
        assert_eq!(endpoint.signing_region, "us-iso-east-1");
        p.use_fips = true;
        assert_eq!(url_of(&p), "https://sts-fips.us-iso-east-1.c2s.ic.gov");
        p.use_dual_stack = true;
        assert_eq!(url_of(&p), "https://sts-fips.us-iso-east-1.api.aws.ic.gov");
        p.use_fips = false;
        assert_eq!(url_of(&p), "https://sts.us-iso-east-1.api.aws.ic.gov");
        assert_eq!(url_of(&params("us-iso-west-1")), "https://sts.us-iso-west-1.c2s.ic.gov");
    }

    #[test]
    fn aws_iso_b_partition_is_not_aws_iso() {
        let endpoint = resolve(&params("us-isob-east-1")).unwrap();
        assert_eq!(endpoint.url, "https://sts.us-isob-east-1.sc2s.sgov.gov");
        assert_eq!(endpoint.signing_region, "us-isob-east-1");
        let mut p = params("us-isob-east-1");
        p.use_fips = true;
        assert_eq!(url_of(&p), "https://sts-fips.us-isob-east-1.sc2s.sgov.gov");
        p.use_fips = false;
        p.use_dual_stack = true;
        assert_eq!(url_of(&p), "https://sts.us-isob-east-1.api.aws.scloud");
    }

    #[test]
    fn arn_partitions_are_the_known_ones_and_their_examples_belong_to_them() {
        assert_eq!(arn_partition("arn:aws:iam::123456789012:role/x"), Some("aws"));
        assert_eq!(arn_partition("arn:aws-us-gov:iam::123456789012:role/x"), Some("aws-us-gov"));
        assert_eq!(arn_partition("arn:aws-cn:iam::123456789012:mfa/u"), Some("aws-cn"));
        assert_eq!(arn_partition("arn:aws-future:iam::123456789012:role/x"), None, "unknown: not judged");
        assert_eq!(arn_partition("GAHT12345678"), None, "a hardware serial names no partition");
        for p in PARTITIONS {
            let region = example_region(p.id).unwrap_or_else(|| panic!("an example for {}", p.id));
            assert_eq!(partition_id(region), p.id, "{region}");
        }
    }

    #[test]
    fn other_partitions() {
        assert_eq!(url_of(&params("eu-isoe-west-1")), "https://sts.eu-isoe-west-1.cloud.adc-e.uk");
        assert_eq!(url_of(&params("us-isof-south-1")), "https://sts.us-isof-south-1.csp.hci.ic.gov");
        assert_eq!(url_of(&params("eusc-de-east-1")), "https://sts.eusc-de-east-1.amazonaws.eu");
        let mut p = params("cn-north-1");
        p.use_dual_stack = true;
        assert_eq!(url_of(&p), "https://sts.cn-north-1.api.amazonwebservices.com.cn");
        assert_eq!(url_of(&params("mx-central-1")), "https://sts.mx-central-1.amazonaws.com");
    }

    #[test]
    fn us_gov_fips_uses_the_regular_host() {
        let mut p = params("us-gov-west-1");
        p.use_fips = true;
        let endpoint = resolve(&p).unwrap();
        assert_eq!(endpoint.url, "https://sts.us-gov-west-1.amazonaws.com");
        assert_eq!(endpoint.signing_region, "us-gov-west-1");
    }

    #[test]
    fn unknown_region_falls_back_to_aws() {
        let endpoint = resolve(&params("xx-newplace-1")).unwrap();
        assert_eq!(endpoint.url, "https://sts.xx-newplace-1.amazonaws.com");
        assert_eq!(endpoint.signing_region, "xx-newplace-1");
        // Looks like a partition prefix but does not fit its pattern.
        assert_eq!(partition_for("us-iso-east", PARTITIONS).id, "aws");
        assert_eq!(partition_for("localhost", PARTITIONS).id, "aws");
    }

    #[test]
    fn partition_table_resolves_known_regions() {
        assert_eq!(PARTITIONS[0].id, "aws", "aws must come first: it is the fallback");
        let known = [
            ("us-east-1", "aws"),
            ("ap-southeast-7", "aws"),
            ("il-central-1", "aws"),
            ("mx-central-1", "aws"),
            ("aws-global", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("aws-cn-global", "aws-cn"),
            ("eusc-de-east-1", "aws-eusc"),
            ("us-iso-east-1", "aws-iso"),
            ("aws-iso-global", "aws-iso"),
            ("us-isob-west-1", "aws-iso-b"),
            ("aws-iso-b-global", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("aws-iso-e-global", "aws-iso-e"),
            ("us-isof-east-1", "aws-iso-f"),
            ("aws-iso-f-global", "aws-iso-f"),
            ("us-gov-east-1", "aws-us-gov"),
            ("aws-us-gov-global", "aws-us-gov"),
        ];
        for (region, partition) in known {
            assert_eq!(partition_for(region, PARTITIONS).id, partition, "{region}");
        }
    }

    #[test]
    fn invalid_regions_are_rejected() {
        let too_long = "a".repeat(64);
        for region in [
            "us east 1",
            "evil.com/x",
            "us-east-1.evil.com",
            "-us-east-1",
            "us-east-1-",
            "us_east_1",
            "us-éast-1",
            too_long.as_str(),
        ] {
            assert_eq!(
                resolve(&params(region)),
                Err(EndpointError::InvalidRegion { region: region.to_owned() }),
                "{region:?}"
            );
        }
        // Also with the global flag and with a custom endpoint.
        let mut p = params("evil.com/x");
        p.use_global_endpoint = true;
        assert!(matches!(resolve(&p), Err(EndpointError::InvalidRegion { .. })));
        p.endpoint = Some("https://example.com".to_owned());
        assert!(matches!(resolve(&p), Err(EndpointError::InvalidRegion { .. })));
    }

    #[test]
    fn empty_region_is_missing() {
        assert_eq!(resolve(&params("")), Err(EndpointError::MissingRegion));
        assert_eq!(resolve(&EndpointParams::default()), Err(EndpointError::MissingRegion));
    }

    #[test]
    fn custom_endpoint_trailing_slash() {
        let p = EndpointParams { endpoint: Some("https://sts.example.com/".to_owned()), ..EndpointParams::default() };
        let endpoint = resolve(&p).unwrap();
        assert_eq!(endpoint.url, "https://sts.example.com");
        assert_eq!(endpoint.signing_region, "us-east-1");

        let p = EndpointParams {
            region: Some("eu-west-1".to_owned()),
            endpoint: Some("https://proxy.example.com/sts//".to_owned()),
            ..EndpointParams::default()
        };
        let endpoint = resolve(&p).unwrap();
        assert_eq!(endpoint.url, "https://proxy.example.com/sts/");
        assert_eq!(endpoint.signing_region, "eu-west-1");
    }

    #[test]
    fn custom_endpoint_local_http() {
        let p = EndpointParams {
            region: Some("eu-central-1".to_owned()),
            endpoint: Some("http://127.0.0.1:1234".to_owned()),
            use_global_endpoint: true,
            ..EndpointParams::default()
        };
        assert_eq!(
            resolve(&p),
            Ok(Endpoint { url: "http://127.0.0.1:1234".to_owned(), signing_region: "eu-central-1".to_owned() })
        );
        for url in [
            "http://[::1]:4566",
            "HTTPS://sts.example.com",
            "http://localhost",
            "https://user@host.example:443/path?q=1",
        ] {
            let p = EndpointParams { endpoint: Some(url.to_owned()), ..EndpointParams::default() };
            assert_eq!(url_of(&p), url);
        }
    }

    #[test]
    fn invalid_custom_endpoints_are_rejected() {
        for url in [
            "",
            "example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://:443",
            "https://user@",
            "https://host:abc",
            "https://host:99999",
            "https://host:",
            "https://[::1",
            "https://[]:80",
            "https://exa mple.com",
            "https://example.com\n",
        ] {
            let p = EndpointParams {
                region: Some("us-east-1".to_owned()),
                endpoint: Some(url.to_owned()),
                ..EndpointParams::default()
            };
            assert_eq!(resolve(&p), Err(EndpointError::InvalidEndpointUrl { url: url.to_owned() }), "{url:?}");
        }
    }

    #[test]
    fn global_endpoint_flag_only_for_plain_legacy_regions() {
        let mut p = params("us-east-1");
        p.use_global_endpoint = true;
        assert_eq!(resolve(&p), Ok(global_endpoint()));
        p.use_fips = true;
        assert_eq!(url_of(&p), "https://sts-fips.us-east-1.amazonaws.com");
        p.use_fips = false;
        p.use_dual_stack = true;
        assert_eq!(url_of(&p), "https://sts.us-east-1.api.aws");

        let mut p = params("ap-east-1");
        p.use_global_endpoint = true;
        assert_eq!(url_of(&p), "https://sts.ap-east-1.amazonaws.com");
        let mut p = params("cn-north-1");
        p.use_global_endpoint = true;
        assert_eq!(url_of(&p), "https://sts.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn aws_global_only_special_without_fips_or_dual_stack() {
        // Faithful to the rule set: FIPS with aws-global builds a regional-style host.
        let mut p = params("aws-global");
        p.use_fips = true;
        let endpoint = resolve(&p).unwrap();
        assert_eq!(endpoint.url, "https://sts-fips.aws-global.amazonaws.com");
        assert_eq!(endpoint.signing_region, "aws-global");
    }

    #[test]
    fn unsupported_features_are_errors() {
        static LIMITED: &[Partition] = &[Partition {
            id: "aws-limited",
            region_prefixes: &["zz"],
            named_regions: &[],
            dns_suffix: "example.net",
            dual_stack_dns_suffix: "example.net",
            supports_fips: false,
            supports_dual_stack: false,
        }];
        let partition = "aws-limited".to_owned();
        let mut p = params("zz-north-1");
        assert_eq!(resolve_in(&p, LIMITED).unwrap().url, "https://sts.zz-north-1.example.net");
        p.use_fips = true;
        assert_eq!(resolve_in(&p, LIMITED), Err(EndpointError::FipsNotSupported { partition: partition.clone() }));
        p.use_dual_stack = true;
        assert_eq!(resolve_in(&p, LIMITED), Err(EndpointError::FipsNotSupported { partition: partition.clone() }));
        p.use_fips = false;
        assert_eq!(resolve_in(&p, LIMITED), Err(EndpointError::DualStackNotSupported { partition }));
    }

    #[test]
    fn error_messages_are_readable() {
        assert!(EndpointError::MissingRegion.to_string().contains("region"));
        assert!(EndpointError::InvalidRegion { region: "a b".to_owned() }.to_string().contains("\"a b\""));
        assert!(EndpointError::FipsNotSupported { partition: "aws-iso".to_owned() }.to_string().contains("aws-iso"));
    }
}
