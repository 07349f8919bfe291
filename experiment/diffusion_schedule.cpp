// The cosine schedule and the DDIM sampler; see diffusion_schedule.hpp.
#include "experiment/diffusion_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "engine/error.hpp"

namespace twp {

CosineSchedule::CosineSchedule(int timesteps, double offset, double floor) {
    TWP_CHECK(timesteps >= 1, "a noise schedule of " << timesteps << " timesteps");
    const double pi = 3.14159265358979323846;
    const auto f = [&](double t) {
        const double c = std::cos((t / timesteps + offset) / (1 + offset) * pi / 2);
        return c * c;
    };
    for (int t = 0; t < timesteps; ++t) alpha_bar_.push_back(std::max(f(t + 1) / f(0), floor));
}

double CosineSchedule::alpha_bar(int t) const {
    TWP_CHECK(t >= 0 && t < timesteps(), "timestep " << t << " outside 0.." << timesteps() - 1);
    return alpha_bar_[size_t(t)];
}

std::vector<int> CosineSchedule::sampling_timesteps(int steps) const {
    TWP_CHECK(steps >= 1 && steps <= timesteps(),
              "a sampler of " << steps << " steps over " << timesteps() << " timesteps (1.." << timesteps() << ")");
    std::vector<int> ts;
    for (int k = 0; k < steps; ++k)
        ts.push_back(int(std::lround(double(timesteps()) - 1 - double(k) * timesteps() / steps)));
    return ts;
}

std::vector<DdimStep> ddim_steps(const CosineSchedule& schedule, int steps) {
    const std::vector<int> ts = schedule.sampling_timesteps(steps);
    std::vector<DdimStep> out;
    for (size_t k = 0; k < ts.size(); ++k) {
        DdimStep s;
        s.t = ts[k];
        s.next = k + 1 < ts.size() ? ts[k + 1] : -1;
        const double a = schedule.alpha_bar(s.t), next = s.next >= 0 ? schedule.alpha_bar(s.next) : 1.0;
        s.x_coefficient = float(std::sqrt(next / a));
        s.eps_coefficient = float(std::sqrt(1 - next) - std::sqrt(next * (1 - a) / a));
        out.push_back(s);
    }
    return out;
}

void ddim_sample(Backend& backend, const CosineSchedule& schedule, int steps, const Denoiser& denoiser, Tensor x,
                 Tensor x_coefficient, Tensor eps_coefficient) {
    TWP_CHECK(x.shape.rank == 2 && x_coefficient.shape == Shape({x.dim(0)}) && eps_coefficient.shape == x_coefficient.shape,
              "ddim_sample: x " << x.shape.str() << " and coefficients " << x_coefficient.shape.str() << " and "
                                << eps_coefficient.shape.str());
    for (const DdimStep& s : ddim_steps(schedule, steps)) {
        const Tensor eps = denoiser(x, s.t);
        TWP_CHECK(eps.shape == x.shape, "ddim_sample: the denoiser returned " << eps.shape.str() << " for x " << x.shape.str());
        backend.fill(x_coefficient, s.x_coefficient);
        backend.fill(eps_coefficient, s.eps_coefficient);
        backend.row_combine_forward(x_coefficient, x, eps_coefficient, eps, x);
    }
}

}  // namespace twp
