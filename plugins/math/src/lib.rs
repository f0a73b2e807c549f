use toolhost_sdk::prelude::*;

/// Arithmetic and statistics.
#[group(name = "math")]
mod math {
    use super::*;
    #[derive(Deserialize, JsonSchema)]
    pub struct Pair {
        /// First operand.
        pub a: f64,
        /// Second operand.
        pub b: f64,
    }

    /// Divide `a` by `b`.
    #[operation(read_only, idempotent)]
    pub fn divide(ctx: &Context, Pair { a, b }: Pair) -> Result<f64, ToolError> {
        if b == 0.0 {
            return Err(ToolError::invalid_arguments("b must not be zero"));
        }
        ctx.log(Level::Debug, "dividing");
        Ok(a / b)
    }
}
