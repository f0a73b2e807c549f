//! The `math` service group: arithmetic, rounding and descriptive statistics.
//!
//! Build: `cargo build --release` in `plugins/` gives
//! `target/wasm32-wasip2/release/math.wasm`.

use toolhost_sdk::prelude::*;

/// Arithmetic on two numbers, rounding, and descriptive statistics of a list
/// of numbers. All numbers are 64-bit floating point.
#[group(
    name = "math",
    instructions = "Use these tools instead of mental arithmetic whenever a number must be exact. \
                    Results that do not fit in a 64-bit float are reported as errors."
)]
mod math {
    use super::*;

    /// Two operands.
    #[derive(Deserialize, JsonSchema)]
    pub struct Pair {
        /// First operand.
        pub a: f64,
        /// Second operand.
        pub b: f64,
    }

    /// Add `a` and `b`.
    #[operation(read_only, idempotent, title = "Add")]
    pub fn add(Pair { a, b }: Pair) -> Result<f64, ToolError> {
        finite(a + b)
    }

    /// Subtract `b` from `a`.
    #[operation(read_only, idempotent, title = "Subtract")]
    pub fn subtract(Pair { a, b }: Pair) -> Result<f64, ToolError> {
        finite(a - b)
    }

    /// Multiply `a` by `b`.
    #[operation(read_only, idempotent, title = "Multiply")]
    pub fn multiply(Pair { a, b }: Pair) -> Result<f64, ToolError> {
        finite(a * b)
    }

    /// Divide `a` by `b`.
    ///
    /// Fails with `invalid-arguments` when `b` is zero.
    #[operation(read_only, idempotent, title = "Divide")]
    pub fn divide(ctx: &Context, Pair { a, b }: Pair) -> Result<f64, ToolError> {
        if b == 0.0 {
            return Err(ToolError::invalid_arguments("b must not be zero"));
        }
        ctx.log(Level::Debug, "dividing");
        finite(a / b)
    }

    /// A number to round.
    #[derive(Deserialize, JsonSchema)]
    pub struct Round {
        /// The number to round.
        pub value: f64,
        /// Digits to keep after the decimal point.
        #[serde(default)]
        #[schemars(range(min = 0, max = 15))]
        pub decimals: u8,
    }

    /// Round `value` to `decimals` digits after the decimal point (0 by
    /// default), halves away from zero, e.g. 2.5 → 3 and 1.25 → 1.3 with
    /// one decimal.
    ///
    /// The input is a binary float, so a value such as 1.005 (stored as
    /// 1.00499999...) rounds down.
    #[operation(read_only, idempotent, title = "Round")]
    pub fn round(Round { value, decimals }: Round) -> Result<f64, ToolError> {
        if decimals > 15 {
            return Err(ToolError::invalid_arguments(
                "decimals must be between 0 and 15",
            ));
        }
        Ok(crate::round_half_away(value, decimals))
    }

    /// A list of numbers.
    #[derive(Deserialize, JsonSchema)]
    pub struct Numbers {
        /// The numbers to describe; at least one.
        #[schemars(length(min = 1))]
        pub values: Vec<f64>,
        /// Use the sample standard deviation (divides by n − 1) instead of
        /// the population one (divides by n). Needs at least two values.
        #[serde(default)]
        pub sample: bool,
    }

    /// Descriptive statistics of a list of numbers.
    #[derive(Debug, PartialEq, Serialize, JsonSchema)]
    pub struct Statistics {
        /// How many numbers there are.
        pub count: usize,
        /// Their sum.
        pub sum: f64,
        /// Arithmetic mean.
        pub mean: f64,
        /// Middle value; the mean of the two middle values for an even count.
        pub median: f64,
        /// Smallest value.
        pub min: f64,
        /// Largest value.
        pub max: f64,
        /// Standard deviation (population, or sample when asked).
        pub stddev: f64,
    }

    /// Count, sum, mean, median, minimum, maximum and standard deviation of
    /// a list of numbers.
    #[operation(read_only, idempotent, title = "Statistics")]
    pub fn statistics(Numbers { values, sample }: Numbers) -> Result<Statistics, ToolError> {
        crate::describe(&values, sample)
    }

    /// `value` if it fits in a 64-bit float.
    fn finite(value: f64) -> Result<f64, ToolError> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(ToolError::failed(
                "the result does not fit in a 64-bit float",
            ))
        }
    }
}

/// Round half away from zero to `decimals` digits. Rounding the scaled value
/// keeps 2.5 → 3; very large values (which have no fractional digits left at
/// that scale) are returned as they are.
fn round_half_away(value: f64, decimals: u8) -> f64 {
    let scale = 10f64.powi(i32::from(decimals));
    let scaled = value * scale;
    if !scaled.is_finite() || scaled.abs() >= 2f64.powi(52) {
        return value;
    }
    scaled.round() / scale
}

fn describe(values: &[f64], sample: bool) -> Result<math::Statistics, ToolError> {
    if values.is_empty() {
        return Err(ToolError::invalid_arguments(
            "values must hold at least one number",
        ));
    }
    if sample && values.len() < 2 {
        return Err(ToolError::invalid_arguments(
            "the sample standard deviation needs at least two values; \
             set `sample` to false for the population one",
        ));
    }
    let count = values.len();
    let sum: f64 = values.iter().sum();
    if !sum.is_finite() {
        return Err(ToolError::failed("the sum does not fit in a 64-bit float"));
    }
    let mean = sum / count as f64;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if count % 2 == 1 {
        sorted[count / 2]
    } else {
        (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
    };
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    let divisor = if sample { count - 1 } else { count } as f64;
    Ok(math::Statistics {
        count,
        sum,
        mean,
        median,
        min: sorted[0],
        max: sorted[count - 1],
        stddev: (squares / divisor).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use math::{Numbers, Pair, Round};

    #[test]
    fn divide_by_zero_is_an_argument_error() {
        let ctx = Context::detached();
        let err = math::divide(&ctx, Pair { a: 1.0, b: 0.0 }).unwrap_err();
        assert_eq!(err.kind(), toolhost_sdk::ErrorKind::InvalidArguments);
        assert_eq!(math::divide(&ctx, Pair { a: 1.0, b: 4.0 }), Ok(0.25));
    }

    #[test]
    fn overflow_is_reported_not_returned_as_infinity() {
        let err = math::multiply(Pair { a: 1e308, b: 10.0 }).unwrap_err();
        assert_eq!(err.kind(), toolhost_sdk::ErrorKind::Failed);
    }

    #[test]
    fn rounding_goes_half_away_from_zero() {
        let round = |value, decimals| math::round(Round { value, decimals }).unwrap();
        assert_eq!(round(2.5, 0), 3.0);
        assert_eq!(round(-2.5, 0), -3.0);
        assert_eq!(round(1.25, 1), 1.3);
        assert_eq!(round(4.56789, 2), 4.57);
        assert_eq!(round(1e300, 15), 1e300);
        assert!(
            math::round(Round {
                value: 1.0,
                decimals: 16
            })
            .is_err()
        );
    }

    #[test]
    fn statistics_of_an_even_count() {
        let stats = math::statistics(Numbers {
            values: vec![4.0, 1.0, 3.0, 2.0],
            sample: false,
        })
        .unwrap();
        assert_eq!(stats.count, 4);
        assert_eq!(stats.sum, 10.0);
        assert_eq!(stats.mean, 2.5);
        assert_eq!(stats.median, 2.5);
        assert_eq!((stats.min, stats.max), (1.0, 4.0));
        assert!((stats.stddev - 1.25f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn sample_standard_deviation_divides_by_n_minus_one() {
        let stats = describe(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], true).unwrap();
        assert!((stats.stddev - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(stats.median, 4.5);
    }

    #[test]
    fn empty_and_too_short_lists_are_argument_errors() {
        assert!(describe(&[], false).is_err());
        assert!(describe(&[1.0], true).is_err());
        assert_eq!(describe(&[1.0], false).unwrap().stddev, 0.0);
    }
}
