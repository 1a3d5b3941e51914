//! `strata tag SOURCE TARGET` — Docker's `docker tag`, plus `--bump major|minor|patch`, which
//! tags the image with the next semantic version after the highest one its repository has.

use anyhow::{anyhow, bail};
use strata_oci::reference::Reference;
use strata_oci::semver::{Bump, TagVersion, bump, sort_tags};

use crate::Ctx;
use crate::cli::TagArgs;
use crate::image;

/// Docker's client checks both references before asking the daemon, and prints its own
/// message (no `Error:` prefix): `Error parsing reference: "X" is not a valid
/// repository/tag: …`, or `refusing to create a tag with a digest reference`.
fn check_references(source: &str, target: &str) -> Result<(), String> {
    let wrap = |input: &str, e: String| {
        format!(
            "Error parsing reference: {input:?} is not a valid repository/tag: {}",
            image::reference_error_text(&e)
        )
    };
    strata_oci::reference::AnyReference::parse(source).map_err(|e| wrap(source, e.to_string()))?;
    let t = Reference::parse_normalized(target).map_err(|e| wrap(target, e.to_string()))?;
    if t.digest_str().is_some() {
        return Err("refusing to create a tag with a digest reference".into());
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: TagArgs) -> anyhow::Result<()> {
    if args.bump.is_none()
        && let Some(t) = &args.target
        && let Err(msg) = check_references(&args.source, t)
    {
        eprintln!("{msg}");
        return Err(crate::Exit(1).into());
    }
    let store = ctx.store()?;
    let target = match (&args.bump, &args.target) {
        (None, Some(t)) => image::normalize_tag(t)?,
        (None, None) => {
            bail!("\"tag\" requires exactly 2 arguments (SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG])")
        }
        (Some(part), target) => {
            let part = match part.as_str() {
                "major" => Bump::Major,
                "minor" => Bump::Minor,
                "patch" => Bump::Patch,
                other => bail!("invalid --bump value {other:?} (expected major, minor or patch)"),
            };
            let repo = match target.as_deref() {
                Some(t) => {
                    let r = Reference::parse_normalized(t).map_err(|e| anyhow!("{e}"))?;
                    if r.tag().is_some() || r.digest_str().is_some() {
                        bail!(
                            "with --bump, TARGET_IMAGE names a repository: drop the tag from {t:?}"
                        );
                    }
                    r.name()
                }
                None => Reference::parse_normalized(&args.source)
                    .map_err(|e| anyhow!("{e}"))?
                    .name(),
            };
            let images = store.images()?;
            let mut tags: Vec<String> = images
                .entries()
                .iter()
                .filter_map(strata_store::entry_name)
                .filter_map(|n| Reference::parse(n).ok())
                .filter(|r| r.name() == repo)
                .filter_map(|r| r.tag().map(str::to_string))
                .filter(|t| TagVersion::parse(t).is_some())
                .collect();
            // A repository with no versions yet starts from the source image's own tag.
            if tags.is_empty()
                && let Ok(src) = Reference::parse_normalized(&args.source)
                && let Some(t) = src.tag().filter(|t| TagVersion::parse(t).is_some())
            {
                tags.push(t.to_string());
            }
            sort_tags(&mut tags);
            let next = match tags.last() {
                Some(highest) => bump(highest, part).map_err(|e| anyhow!("{e}"))?,
                None => bail!(
                    "repository {} has no semantic-version tag to bump",
                    image::familiar(&repo)
                ),
            };
            format!("{repo}:{next}")
        }
    };
    let images = store.images()?;
    let source = image::resolve(&store, &images, &args.source).map_err(image::daemon_error)?;
    store.update(|txn| txn.tag(&target, &source).map(|_| ()))?;
    if args.bump.is_some() {
        println!("{}", image::familiar(&target));
    }
    Ok(())
}
