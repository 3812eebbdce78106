/* levi/levi.h — the whole public API of liblevi. */
#ifndef LEVI_LEVI_H
#define LEVI_LEVI_H

#include "levi/status.h"
#include "levi/log.h"
#include "levi/random.h"
#include "levi/runtime.h"
#include "levi/files.h"
#include "levi/tensor.h"
#include "levi/ops.h"
#include "levi/gemm.h"
#include "levi/report.h"
#include "levi/data.h"
#include "levi/text.h"
#include "levi/safetensors.h"
#include "levi/json_util.h"
#include "levi/vit.h"
#include "levi/bert.h"
#include "levi/nn.h"
#include "levi/backbone.h"
#include "levi/levi_model.h"
#include "levi/train.h"
#include "levi/memplan.h"
#include "levi/tuning.h"
#include "levi/comm.h"

#define LEVI_VERSION "0.1.0"

#endif
