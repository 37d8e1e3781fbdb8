// Device memory and conversions shared by the backend and the kernel tests.
#include <vector>

#include "kernels/cuda_common.cuh"

namespace mvx::cuda {

std::size_t dtype_bytes(dtype t) { return t == dtype::f32 ? 4 : 2; }

void check_last(const char* what) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail(what, e);
}

device_buffer::device_buffer(std::size_t bytes) : n_(bytes) {
    if (bytes) MVX_CUDA_CHECK(cudaMalloc(&p_, bytes));
}

device_buffer::~device_buffer() {
    if (p_) cudaFree(p_);
}

device_buffer& device_buffer::operator=(device_buffer&& o) noexcept {
    if (this != &o) {
        if (p_) cudaFree(p_);
        p_ = o.p_;
        n_ = o.n_;
        o.p_ = nullptr;
        o.n_ = 0;
    }
    return *this;
}

void device_buffer::upload(const void* host, std::size_t bytes, stream_t s) {
    if (bytes > n_) throw mvx::error(mvx::error_kind::internal, "EMBEDDING_FAILED", "device buffer too small for upload");
    if (s)
        MVX_CUDA_CHECK(cudaMemcpyAsync(p_, host, bytes, cudaMemcpyHostToDevice, as_stream(s)));
    else
        MVX_CUDA_CHECK(cudaMemcpy(p_, host, bytes, cudaMemcpyHostToDevice));
}

void device_buffer::download(void* host, std::size_t bytes, stream_t s) const {
    if (bytes > n_) throw mvx::error(mvx::error_kind::internal, "EMBEDDING_FAILED", "device buffer too small for download");
    if (s)
        MVX_CUDA_CHECK(cudaMemcpyAsync(host, p_, bytes, cudaMemcpyDeviceToHost, as_stream(s)));
    else
        MVX_CUDA_CHECK(cudaMemcpy(host, p_, bytes, cudaMemcpyDeviceToHost));
}

device_buffer upload_as(dtype t, const float* host, std::size_t count) {
    device_buffer b(count * dtype_bytes(t));
    if (t == dtype::f32) {
        b.upload(host, count * 4);
        return b;
    }
    std::vector<std::uint16_t> tmp(count);
    for (std::size_t i = 0; i < count; ++i) {
        if (t == dtype::f16) {
            __half h = __float2half_rn(host[i]);
            tmp[i] = *reinterpret_cast<std::uint16_t*>(&h);
        } else {
            __nv_bfloat16 h = __float2bfloat16_rn(host[i]);
            tmp[i] = *reinterpret_cast<std::uint16_t*>(&h);
        }
    }
    b.upload(tmp.data(), count * 2);
    return b;
}

void download_f32(dtype t, const void* dev, std::size_t count, float* host) {
    if (t == dtype::f32) {
        MVX_CUDA_CHECK(cudaMemcpy(host, dev, count * 4, cudaMemcpyDeviceToHost));
        return;
    }
    std::vector<std::uint16_t> tmp(count);
    MVX_CUDA_CHECK(cudaMemcpy(tmp.data(), dev, count * 2, cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < count; ++i) {
        if (t == dtype::f16)
            host[i] = __half2float(*reinterpret_cast<const __half*>(&tmp[i]));
        else
            host[i] = __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(&tmp[i]));
    }
}

void synchronize() { MVX_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace mvx::cuda
