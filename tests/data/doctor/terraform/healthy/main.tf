terraform {
  backend "s3" {
    bucket  = "state"
    key     = "app/terraform.tfstate"
    region  = "us-west-2"
    profile = "target-tf"
  }
}

variable "region" {
  default = "us-west-2"
}

provider "aws" {
  profile                  = "target-tf"
  region                   = var.region
  shared_credentials_files = ["~/.aws/credentials"]
}

data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket  = "state"
    key     = "network/terraform.tfstate"
    region  = "us-west-2"
    profile = "target-tf"
  }
}
