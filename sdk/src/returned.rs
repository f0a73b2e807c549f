//! How the code `#[group]` generates converts what an operation returned,
//! and finds its output schema. Not public API.
//!
//! Every result goes through [`IntoOutput`], except two kinds picked by
//! autoref specialization (the generated code calls
//! `(&Returned::<R>::new(value)).convert()` and
//! `(&Returned::<R>::probe()).output_schema()`, so method resolution tries
//! [`SpecialOutput`], implemented on `Returned<R>`, before [`AnyOutput`],
//! implemented on `&Returned<R>`):
//!
//! - structs `#[group]` marked [`ObjectOutput`]: their JSON is the structured
//!   result as is, without generating their schema on every call;
//! - `Vec<Content>`, which cannot implement `IntoOutput` beside its blanket
//!   implementation for `Serialize + JsonSchema` types.

use std::cell::Cell;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::output::to_json;
use crate::schema::ResultShape;
use crate::{Content, IntoOutput, ToolError, ToolOutput};

/// Implemented by `#[group]` for the structs of the group module that
/// certainly serialize as JSON objects with an object schema (named fields,
/// derived `Serialize` and `JsonSchema`, nothing transparent).
pub trait ObjectOutput {}

/// A value an operation returned (or, for the schema, none).
pub struct Returned<T>(Cell<Option<T>>);

impl<T> Returned<T> {
    /// Wrap a returned value.
    pub fn new(value: T) -> Self {
        Returned(Cell::new(Some(value)))
    }

    /// Stand for the type only, to ask for its output schema.
    pub fn probe() -> Self {
        Returned(Cell::new(None))
    }

    fn take(&self) -> T {
        self.0.take().expect("a returned value is converted once")
    }
}

/// The conversions that take precedence over [`AnyOutput`].
pub trait SpecialOutput {
    /// Convert the returned value.
    fn convert(&self) -> Result<ToolOutput, ToolError>;
    /// The output schema of the type.
    fn output_schema(&self) -> Option<Value>;
}

impl<T: ObjectOutput + Serialize + JsonSchema> SpecialOutput for Returned<T> {
    fn convert(&self) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::new().with_structured(to_json(&self.take())?))
    }

    fn output_schema(&self) -> Option<Value> {
        T::output_schema()
    }
}

impl SpecialOutput for Returned<Vec<Content>> {
    fn convert(&self) -> Result<ToolOutput, ToolError> {
        Ok(self.take().into())
    }

    fn output_schema(&self) -> Option<Value> {
        None
    }
}

/// Every other result: [`IntoOutput`].
pub trait AnyOutput {
    /// Convert the returned value.
    fn convert(&self) -> Result<ToolOutput, ToolError>;
    /// The output schema of the type.
    fn output_schema(&self) -> Option<Value>;
}

impl<T: IntoOutput> AnyOutput for &Returned<T> {
    fn convert(&self) -> Result<ToolOutput, ToolError> {
        self.take().into_output()
    }

    fn output_schema(&self) -> Option<Value> {
        T::output_schema()
    }
}

/// Fails (in the test `#[group]` generates) when `T` was marked
/// [`ObjectOutput`] but its schema is not an object.
pub fn assert_object_output<T: ObjectOutput + JsonSchema>() {
    let shape = ResultShape::of::<T>();
    assert!(
        matches!(shape, ResultShape::Object(_)),
        "`{}` was taken for an object but its schema is {:?}",
        std::any::type_name::<T>(),
        shape.output_schema()
    );
}
