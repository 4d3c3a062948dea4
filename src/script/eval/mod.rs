//! Stage 2 proper: from the declarations of the scripts to the [`Model`]. Roots
//! (a component placed on a host) are configured until provide/require settles,
//! then assembled into hosts, component instances, steps and links.

mod assemble;
pub(crate) mod build;
mod configure;
mod hosts;
mod retired;
mod roots;
mod trial;

pub(crate) use configure::configure;
pub(crate) use trial::trial;

use crate::model::Model;
use crate::problem::Problem;

/// The model and what is worth a warning but not an error.
pub(crate) struct Configured {
    pub(crate) model: Model,
    pub(crate) warnings: Vec<Problem>,
}
