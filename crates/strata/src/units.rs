//! Docker's human-readable units, reproduced exactly because scripts and eyes are used to
//! them: sizes in decimal units with Go's `%.*g` formatting (`4.26MB`, `1e+03kB`), and
//! durations as `docker images` prints them (`About an hour`, `3 weeks`).

/// Go's `strconv.FormatFloat(v, 'g', prec, 64)` without trailing zeros, as `fmt.Sprintf("%.*g")`.
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits via scientific formatting, then decide the form.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanSizeWithPrecision`: decimal (1000-based) units.
pub fn human_size_prec(size: f64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, prec), UNITS[i])
}

/// go-units `HumanSize` (precision 4).
pub fn human_size(size: u64) -> String {
    human_size_prec(size as f64, 4)
}

/// The SIZE columns of `images`/`history` (precision 3).
pub fn size_column(size: u64) -> String {
    human_size_prec(size as f64, 3)
}

/// go-units `HumanDuration`.
pub fn human_duration(d: std::time::Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go rounds to the nearest hour here (half away from zero).
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

/// Docker's `stringutils.Ellipsis` for ASCII/UTF-8 text of single-width characters.
pub fn ellipsis(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if max == 0 {
        return String::new();
    }
    if chars.len() <= max {
        return s.to_string();
    }
    if max == 1 {
        return chars[0].to_string();
    }
    let mut out: String = chars[..max - 1].iter().collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(size_column(0), "0B");
        assert_eq!(size_column(999), "999B");
        assert_eq!(size_column(1000), "1kB");
        assert_eq!(size_column(4_261_550), "4.26MB");
        assert_eq!(size_column(80_000_000), "80MB");
        assert_eq!(size_column(999_500), "1e+03kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(12_345_678_901), "12.35GB");
    }

    #[test]
    fn go_g_forms() {
        assert_eq!(go_g(0.0001234, 3), "0.000123");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
        assert_eq!(go_g(123.0, 3), "123");
        assert_eq!(go_g(1.5, 3), "1.5");
    }

    #[test]
    fn durations_like_go_units() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(10)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(47 * 60)), "47 minutes");
        assert_eq!(human_duration(s(3600 + 29 * 60)), "About an hour");
        assert_eq!(human_duration(s(3600 + 31 * 60)), "2 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(15 * 86400)), "2 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(800 * 86400)), "2 years");
    }

    #[test]
    fn ellipsis_like_docker() {
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }
}
